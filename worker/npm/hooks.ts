import { hooksObject } from "../../durable-objects/stubs";
import { config } from "../../schema/config";
import type { HookType, HookView } from "../../schema/hooks/contract";
import { HookCreateSchema, HookUpdateSchema } from "../../schema/hooks/contract";
import { can } from "../auth/permissions";
import type { Principal } from "../auth/principal";
import { unwrap } from "../errors";
import { type SignedInContext, signedIn } from "../guards";
import { decodeParam, json, readJson } from "../http";
import { packageName } from "../params";
import { refused } from "../refusals";

// npm's hook API (libnpmhook: `npm hook add|ls|update|rm`): a hook on a package, a scope, or an
// owner's packages sends a signed POST to its endpoint on every publish, unpublish, dist-tag,
// deprecation and channel change. Whoever may publish the package (or the scope's packages) may
// hook it; an owner hook is its owner's own. A hook is seen and changed only by who made it (and
// the admin).

const LOG_IN = "manageHooks";

/** The name hooks are owned by: the npm user, else the token's name; the admin is "admin". */
function hookUser(principal: Exclude<Principal, { kind: "anonymous" }>): string {
	return principal.kind === "admin" ? "admin" : (principal.account ?? principal.name);
}

/** The name a hook watches, in its canonical spelling, once the caller may watch it. */
function hookTarget(principal: SignedInContext["principal"], type: HookType, raw: string): string {
	if (type === "owner") {
		const owner = raw.replace(/^~/, "");
		if (principal.kind !== "admin" && owner !== hookUser(principal)) throw refused.ownHooksOnly();
		return owner;
	}
	if (type === "scope") {
		const scope = `@${raw.replace(/^@/, "").replace(/\/.*$/, "")}`;
		const pkg = packageName(`${scope}/x`);
		if (!can(principal, { ...pkg, name: `${scope}/*`, basename: "*" }, "publish")) throw refused.cannotHook(scope);
		return scope;
	}
	const pkg = packageName(raw);
	if (!can(principal, pkg, "publish")) throw refused.cannotHook(pkg.name);
	return pkg.name;
}

/** https anywhere; http only to a loopback address, and only on a local run (`npm start`). */
function assertEndpoint(env: Env, raw: string): string {
	let url: URL;
	try {
		url = new URL(raw);
	} catch {
		throw refused.badHookEndpoint();
	}
	if (url.protocol === "https:") return url.href;
	const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
	if (url.protocol === "http:" && loopback && config(env).localClientAddress !== null) return url.href;
	throw refused.badHookEndpoint();
}

/** A hook the caller may see: its own, or any for the admin; anything else is the same 404. */
async function ownHook(context: SignedInContext): Promise<HookView> {
	const id = decodeParam(context.request.params.id);
	const hook = unwrap(await hooksObject(context.env).get(id));
	if (context.principal.kind !== "admin" && hook.username !== hookUser(context.principal)) {
		throw refused.hookNotFound(id);
	}
	return hook;
}

/** POST /-/npm/v1/hooks/hook */
export const addHook = signedIn({ auth: "signedIn", cache: "none" }, LOG_IN, async ({ request, env, principal }) => {
	const body = await readJson(request, HookCreateSchema);
	const name = hookTarget(principal, body.type, body.name);
	const endpoint = assertEndpoint(env, body.endpoint);
	const hook = unwrap(
		await hooksObject(env).create({
			username: hookUser(principal),
			type: body.type,
			name,
			endpoint,
			secret: body.secret,
		}),
	);
	return json(hook, { status: 201 });
});

/** GET /-/npm/v1/hooks[?package=] */
export const listHooks = signedIn({ auth: "signedIn", cache: "none" }, LOG_IN, async ({ request, env, principal }) => {
	const filter = typeof request.query.package === "string" ? request.query.package.replace(/^~/, "") : undefined;
	const hooks = await hooksObject(env).list({
		username: principal.kind === "admin" ? null : hookUser(principal),
		...(filter ? { name: filter } : {}),
	});
	return json({ objects: hooks, total: hooks.length, urls: {} });
});

/** GET /-/npm/v1/hooks/hook/{id} */
export const getHook = signedIn({ auth: "signedIn", cache: "none" }, LOG_IN, async (context) =>
	json(await ownHook(context)),
);

/** PUT /-/npm/v1/hooks/hook/{id} {endpoint, secret} */
export const updateHook = signedIn({ auth: "signedIn", cache: "none" }, LOG_IN, async (context) => {
	const hook = await ownHook(context);
	const body = await readJson(context.request, HookUpdateSchema);
	const endpoint = assertEndpoint(context.env, body.endpoint);
	return json(unwrap(await hooksObject(context.env).update(hook.id, { endpoint, secret: body.secret })));
});

/** DELETE /-/npm/v1/hooks/hook/{id} */
export const removeHook = signedIn({ auth: "signedIn", cache: "none" }, LOG_IN, async (context) => {
	const hook = await ownHook(context);
	return json(unwrap(await hooksObject(context.env).remove(hook.id)));
});
