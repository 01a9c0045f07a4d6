import type { PackageName } from "../../schema/names";
import { PackageAccessSchema } from "../../schema/requests/npm";
import { authStore } from "../auth/auth-store";
import { can } from "../auth/permissions";
import type { Principal } from "../auth/principal";
import { unwrap } from "../errors";
import { caller, packageRead, packageWrite, signedIn } from "../guards";
import { decodeParam, json, readJson } from "../http";
import { searchIndexStub } from "../objects";
import { packageName } from "../params";
import { refused } from "../refusals";

// npm access, mapped onto the registry's grants: a package's access level lives in its object;
// "collaborators" are the users whose grants cover it.

/** GET /-/package/{name}/visibility (npm access get status) */
export const getVisibility = packageRead(
	{ auth: "read", cache: "none" },
	async (stub) => stub.info(),
	({ value }) => json({ public: value.access === "public" }),
);

/** POST /-/package/{name}/access (npm access set status=public|private, mfa=none|publish|automation) */
export const setAccess = packageWrite(
	{ auth: "write", need: ["publish"], mustExist: true, cache: "none" },
	async ({ request, pkg, stub, actor }) => {
		const body = await readJson(request, PackageAccessSchema);
		const change = {
			...(body.access === undefined ? {} : { access: body.access }),
			...(body.publish_requires_tfa === undefined ? {} : { requireTwoFactor: body.publish_requires_tfa }),
		};
		if (Object.keys(change).length === 0) throw refused.nothingToChange();
		if (change.access === "restricted" && pkg.scope === null) {
			throw refused.unscopedRestricted();
		}
		unwrap(await stub.setAccess(change, actor));
		return json({});
	},
);

/** GET /-/package/{name}/collaborators (npm access list collaborators) */
export const listCollaborators = packageRead(
	{ auth: "read", cache: "none" },
	async (stub) => stub.info(),
	async ({ env, pkg, principal }) => {
		if (principal.kind === "anonymous") throw refused.logIn("listCollaborators");
		return json(await authStore(env).collaborators(pkg.name, pkg.scope));
	},
);

/** GET /-/org/{scope}/package (npm access list packages @scope): the scope's packages you can see. */
export const listScopePackages = caller({ auth: "caller", cache: "none" }, async ({ request, env, principal }) => {
	const scope = `@${decodeParam(request.params.scope).replace(/^@/, "")}`;
	const packages = await searchIndexStub(env).packagesInScope(scope);
	const visible = packages.filter((p) => p.access === "public" || can(principal, packageName(p.name), "read"));
	if (visible.length === 0) throw refused.noScopePackages(scope);
	return json(Object.fromEntries(visible.map((p) => [p.name, permissionOf(principal, packageName(p.name))])));
});

/** GET /-/user/{user}/package (npm access list packages [user]): packages a user's grants, roles and teams cover. */
export const listUserPackages = signedIn(
	{ auth: "signedIn", cache: "none" },
	"listPackages",
	async ({ request, env, principal }) => {
		const name = decodeParam(request.params.user);
		if (principal.kind !== "admin" && !(principal.kind === "developer" && principal.account === name)) {
			throw refused.ownPackagesOnly();
		}
		const [user, fromOrgs] = await Promise.all([authStore(env).getUser(name), authStore(env).orgGrantsOf(name)]);
		if (!user.ok) throw refused.userHidden();
		const result: Record<string, string> = {};
		for (const grant of [...user.value.grants, ...fromOrgs]) {
			const permission = grant.permissions.some((p) => p !== "read") ? "read-write" : "read-only";
			const names =
				"package" in grant
					? [grant.package]
					: (await searchIndexStub(env).packagesInScope(grant.scope)).map((p) => p.name);
			for (const pkg of names) if (result[pkg] !== "read-write") result[pkg] = permission;
		}
		return json(result);
	},
);

function permissionOf(principal: Principal, pkg: PackageName): "read-write" | "read-only" {
	return can(principal, pkg, "publish") ? "read-write" : "read-only";
}
