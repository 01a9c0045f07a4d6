import { OrgMemberSchema, OrgSettingsSchema, UserBodySchema } from "../../schema/requests/orgs";
import { authStore } from "../auth/auth-store";
import { unwrap } from "../errors";
import { signedIn } from "../guards";
import { json, publicBaseUrl, readJson } from "../http";
import { orgCaller, orgChanger, orgParam } from "./caller";
import { clientSetup } from "./setup";

// npm org set/rm/ls (libnpmorg), the org's settings and its client set-up. The auth store decides
// who may do what (durable-objects/auth/orgs.ts); a caller who is no member hears of no org (404).

/** PUT /-/org/{org}/user (npm org set org user [role]): the registry's admin creates an org by naming its first owner. */
export const setOrgMember = signedIn({ auth: "signedIn", cache: "none" }, "manageOrgs", async (c) => {
	const org = orgParam(c.request.params.org);
	const body = await readJson(c.request, OrgMemberSchema);
	const caller = await orgChanger(c.request, c.env, c.principal);
	const { changedTokens: _, ...membership } = unwrap(
		await authStore(c.env).setOrgMember(org, body.user, body.role ?? "developer", caller, c.actor),
	);
	return json(membership);
});

/** DELETE /-/org/{org}/user (npm org rm org user): a member may also leave; the last owner may not. */
export const removeOrgMember = signedIn({ auth: "signedIn", cache: "none" }, "manageOrgs", async (c) => {
	const org = orgParam(c.request.params.org);
	const body = await readJson(c.request, UserBodySchema);
	unwrap(
		await authStore(c.env).removeOrgMember(org, body.user, await orgChanger(c.request, c.env, c.principal), c.actor),
	);
	return new Response(null, { status: 204 });
});

/** GET /-/org/{org}/user (npm org ls): members and their roles, for members. */
export const listOrgMembers = signedIn({ auth: "signedIn", cache: "none" }, "manageOrgs", async (c) => {
	const view = unwrap(await authStore(c.env).org(orgParam(c.request.params.org), orgCaller(c.principal, false)));
	return json(view.members);
});

/** GET /-/org/{org}: the org as its members see it (members, teams with members and grants, settings). */
export const getOrg = signedIn({ auth: "signedIn", cache: "none" }, "manageOrgs", async (c) =>
	json(unwrap(await authStore(c.env).org(orgParam(c.request.params.org), orgCaller(c.principal, false)))),
);

/** PATCH /-/org/{org} { membersRead }: whether every member may read the org's packages (owners). */
export const setOrgSettings = signedIn({ auth: "signedIn", cache: "none" }, "manageOrgs", async (c) => {
	const org = orgParam(c.request.params.org);
	const body = await readJson(c.request, OrgSettingsSchema);
	const { changedTokens: _, ...settings } = unwrap(
		await authStore(c.env).setOrgSettings(org, body, await orgChanger(c.request, c.env, c.principal), c.actor),
	);
	return json(settings);
});

/** GET /-/org/{org}/setup: .npmrc, .yarnrc.yml and bunfig.toml for the org's scope, for members. */
export const orgSetup = signedIn({ auth: "signedIn", cache: "none" }, "manageOrgs", async (c) => {
	const org = orgParam(c.request.params.org);
	unwrap(await authStore(c.env).org(org, orgCaller(c.principal, false)));
	return json(clientSetup(org, publicBaseUrl(c.request, c.env)));
});
