import type { GrantSubject } from "../../schema/auth/contract";
import type { TeamView } from "../../schema/auth/orgs";
import { refusals } from "../../schema/refusals";
import {
	TeamCreateSchema,
	TeamGrantSchema,
	TeamNameSchema,
	TeamRevokeSchema,
	UserBodySchema,
} from "../../schema/requests/orgs";
import { authStore } from "../auth/auth-store";
import { unwrap } from "../errors";
import { type SignedInContext, signedIn } from "../guards";
import { decodeParam, json, readJson, validate } from "../http";
import { searchIndexStub } from "../objects";
import { orgCaller, orgChanger, orgParam } from "./caller";

// npm team create/destroy/add/rm/ls (libnpmteam) and npm access grant/revoke/list packages for a
// team (libnpmaccess). Owners and admins of the org change teams; every member may list them.

const policy = { auth: "signedIn", cache: "none" } as const;

function teamOf(c: SignedInContext): { org: string; team: string } {
	return { org: orgParam(c.request.params.scope), team: validate(TeamNameSchema, decodeParam(c.request.params.team)) };
}

/** A team of the org, as a member sees it. */
async function teamView(c: SignedInContext): Promise<TeamView> {
	const { org, team } = teamOf(c);
	const view = unwrap(await authStore(c.env).org(org, orgCaller(c.principal, false)));
	const found = view.teams.find((t) => t.name === team);
	if (!found) throw unwrap(refusals.teamNotFound(`${org}:${team}`));
	return found;
}

/** PUT /-/org/{scope}/team (npm team create @scope:team). */
export const createTeam = signedIn(policy, "manageOrgs", async (c) => {
	const org = orgParam(c.request.params.scope);
	const body = await readJson(c.request, TeamCreateSchema);
	const { changedTokens: _, ...team } = unwrap(
		await authStore(c.env).createTeam(
			org,
			body.name,
			body.description ?? null,
			await orgChanger(c.request, c.env, c.principal),
			c.actor,
		),
	);
	return json(team, { status: 201 });
});

/** GET /-/org/{scope}/team (npm team ls @scope): `scope:team` names. */
export const listTeams = signedIn(policy, "manageOrgs", async (c) => {
	const org = orgParam(c.request.params.scope);
	const view = unwrap(await authStore(c.env).org(org, orgCaller(c.principal, false)));
	return json(view.teams.map((t) => `${org}:${t.name}`));
});

/** DELETE /-/team/{scope}/{team} (npm team destroy): its members lose its grants at once. */
export const destroyTeam = signedIn(policy, "manageOrgs", async (c) => {
	const { org, team } = teamOf(c);
	unwrap(await authStore(c.env).destroyTeam(org, team, await orgChanger(c.request, c.env, c.principal), c.actor));
	return new Response(null, { status: 204 });
});

/** PUT /-/team/{scope}/{team}/user (npm team add): the user must be a member of the org. */
export const addTeamMember = signedIn(policy, "manageOrgs", async (c) => {
	const { org, team } = teamOf(c);
	const { user } = await readJson(c.request, UserBodySchema);
	unwrap(
		await authStore(c.env).addTeamMember(org, team, user, await orgChanger(c.request, c.env, c.principal), c.actor),
	);
	return json({}, { status: 201 });
});

/** DELETE /-/team/{scope}/{team}/user (npm team rm). */
export const removeTeamMember = signedIn(policy, "manageOrgs", async (c) => {
	const { org, team } = teamOf(c);
	const { user } = await readJson(c.request, UserBodySchema);
	unwrap(
		await authStore(c.env).removeTeamMember(org, team, user, await orgChanger(c.request, c.env, c.principal), c.actor),
	);
	return new Response(null, { status: 204 });
});

/** GET /-/team/{scope}/{team}/user (npm team ls @scope:team). */
export const listTeamMembers = signedIn(policy, "manageOrgs", async (c) => json((await teamView(c)).members));

/** PUT /-/team/{scope}/{team}/package (npm access grant read-only|read-write @scope:team pkg). */
export const grantTeamPackage = signedIn(policy, "manageOrgs", async (c) => {
	const { org, team } = teamOf(c);
	const body = await readJson(c.request, TeamGrantSchema);
	const subject: GrantSubject = "package" in body ? { package: body.package } : { scope: body.scope };
	const caller = await orgChanger(c.request, c.env, c.principal);
	unwrap(await authStore(c.env).grantTeam(org, team, subject, body.permissions, caller, c.actor));
	return json({}, { status: 201 });
});

/** DELETE /-/team/{scope}/{team}/package (npm access revoke @scope:team pkg). */
export const revokeTeamPackage = signedIn(policy, "manageOrgs", async (c) => {
	const { org, team } = teamOf(c);
	const body = await readJson(c.request, TeamRevokeSchema);
	const subject: GrantSubject = "package" in body ? { package: body.package } : { scope: body.scope };
	unwrap(
		await authStore(c.env).revokeTeam(org, team, subject, await orgChanger(c.request, c.env, c.principal), c.actor),
	);
	return new Response(null, { status: 204 });
});

/** GET /-/team/{scope}/{team}/package (npm access list packages @scope:team): a scope grant lists the scope's packages. */
export const listTeamPackages = signedIn(policy, "manageOrgs", async (c) => {
	const result: Record<string, string> = {};
	for (const grant of (await teamView(c)).grants) {
		const names =
			"package" in grant
				? [grant.package]
				: (await searchIndexStub(c.env).packagesInScope(grant.scope)).map((p) => p.name);
		for (const name of names) if (result[name] !== "read-write") result[name] = grant.permission;
	}
	return json(result);
});
