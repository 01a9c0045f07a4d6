import { MaintainersDocumentSchema, PackageAccessSchema } from "../../schema/npm";
import { actorOf, assertCanRead, authenticate, authorizeWrite, can, forgetToken, type Principal } from "../auth";
import { forbidden, HttpError, notFound, unauthorized, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest, readJson, validate } from "../http";
import { type PackageName, packageNameFromParams, parsePackageName } from "../lib/package-name";
import { authStore, packageObject, searchIndex } from "../objects";

// npm access and npm owner, mapped onto the registry's grants: a package's access level lives in
// its object; "collaborators" and "owners" are the users whose grants cover it.

/** GET /-/package/{name}/visibility (npm access get status) */
export async function getVisibility(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const [principal, info] = await Promise.all([authenticate(request, env), packageObject(env, pkg).info()]);
	if (!info.exists) throw notFound();
	assertCanRead(principal, pkg, info.access);
	return json({ public: info.access === "public" });
}

/** POST /-/package/{name}/access (npm access set status=public|private, mfa=none|publish|automation) */
export async function setAccess(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const { principal, info } = await authorizeWrite(request, env, pkg, ["publish"]);
	if (!info.exists) throw notFound();
	const body = await readJson(request, PackageAccessSchema);
	const change = {
		...(body.access === undefined ? {} : { access: body.access }),
		...(body.publish_requires_tfa === undefined ? {} : { requireTwoFactor: body.publish_requires_tfa }),
	};
	if (Object.keys(change).length === 0)
		throw new HttpError("badRequest", "nothing to change: send access or publish_requires_tfa");
	if (change.access === "restricted" && pkg.scope === null) {
		throw new HttpError("unprocessable", "only scoped packages can be made private");
	}
	unwrap(await packageObject(env, pkg).setAccess(change, actorOf(principal)));
	return json({});
}

/** GET /-/package/{name}/collaborators (npm access list collaborators) */
export async function listCollaborators(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const [principal, info] = await Promise.all([authenticate(request, env), packageObject(env, pkg).info()]);
	if (!info.exists) throw notFound();
	assertCanRead(principal, pkg, info.access);
	if (principal.kind === "anonymous") throw unauthorized("log in to list collaborators");
	return json(await authStore(env).collaborators(pkg.name, pkg.scope));
}

/** GET /-/org/{scope}/package (npm access list packages @scope): the scope's packages you can see. */
export async function listScopePackages(request: RouteRequest, env: Env): Promise<Response> {
	const scope = `@${decodeParam(request.params.scope).replace(/^@/, "")}`;
	const principal = await authenticate(request, env);
	const packages = await searchIndex(env).packagesInScope(scope);
	const visible = packages.filter((p) => p.access === "public" || can(principal, parsePackageName(p.name), "read"));
	if (visible.length === 0) throw notFound(`no packages in ${scope}`);
	return json(Object.fromEntries(visible.map((p) => [p.name, permissionOf(principal, parsePackageName(p.name))])));
}

/** GET /-/user/{user}/package (npm access list packages [user]): packages a user's grants cover. */
export async function listUserPackages(request: RouteRequest, env: Env): Promise<Response> {
	const name = decodeParam(request.params.user);
	const principal = await authenticate(request, env);
	if (principal.kind === "anonymous") throw unauthorized("log in to list packages");
	if (principal.kind !== "admin" && !(principal.kind === "developer" && principal.user === name)) {
		throw forbidden("you can only list your own packages");
	}
	const user = await authStore(env).getUser(name);
	if (!user) throw notFound("user not found");
	const result: Record<string, string> = {};
	for (const grant of user.grants) {
		const permission = grant.permissions.some((p) => p !== "read") ? "read-write" : "read-only";
		const names =
			"package" in grant ? [grant.package] : (await searchIndex(env).packagesInScope(grant.scope)).map((p) => p.name);
		for (const pkg of names) if (result[pkg] !== "read-write") result[pkg] = permission;
	}
	return json(result);
}

function permissionOf(principal: Principal, pkg: PackageName): "read-write" | "read-only" {
	return can(principal, pkg, "publish") ? "read-write" : "read-only";
}

/**
 * PUT /{name}/-rev/{rev} with only `maintainers` (npm owner add/rm). Added users get read, upload
 * and publish on the package; removed users lose their grant on it (a scope grant they hold still
 * stands). The packument's maintainers follow.
 */
export async function changeOwners(
	pkg: PackageName,
	data: unknown,
	rev: string | null,
	principal: Principal,
	env: Env,
): Promise<Response> {
	const doc = validate(MaintainersDocumentSchema, data);
	const stub = packageObject(env, pkg);
	const current = await stub.maintainers();
	if (!current.found) throw notFound();
	if (rev !== null && rev !== current.rev)
		throw new HttpError("revisionMismatch", "document update conflict: _rev is not current");
	const wanted = [...new Set(doc.maintainers.map((m) => m.name))];
	if (wanted.length === 0) throw new HttpError("unprocessable", "a package needs at least one owner");
	const before = current.maintainers.map((m) => m.name);
	const store = authStore(env);
	const actor = actorOf(principal);
	const people = [];
	for (const name of wanted) {
		const user = await store.getUser(name);
		if (!user) throw notFound(`user ${name} not found`);
		people.push(user.email ? { name, email: user.email } : { name });
	}
	for (const name of wanted.filter((n) => !before.includes(n))) {
		const { hashes } = unwrap(
			await store.grantUser(name, { package: pkg.name, permissions: ["read", "upload", "publish"] }, actor),
		);
		hashes.forEach(forgetToken);
	}
	for (const name of before.filter((n) => !wanted.includes(n))) {
		// Not every maintainer is a user with a grant of their own on the package (token publishers).
		const removed = await store.ungrantUser(name, { package: pkg.name }, actor);
		if (removed.ok) removed.hashes.forEach(forgetToken);
	}
	const { rev: next } = unwrap(await stub.setMaintainers(people, actor));
	return json({ ok: true, id: pkg.name, rev: next });
}
