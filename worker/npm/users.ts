import type { Actor } from "../../schema/audit";
import { config } from "../../schema/config";
import { sha256Hex } from "../../schema/hashing";
import { CouchLoginSchema } from "../../schema/requests/npm";
import { authStore } from "../auth/auth-store";
import { passwordMatches, recordFailure } from "../auth/credentials";
import { createAccount } from "../auth/new-user";
import { clientIp, newToken } from "../auth/principal";
import { verifyOtp } from "../auth/two-factor";
import { unwrap } from "../errors";
import { signedIn } from "../guards";
import { decodeParam, json, readJson } from "../http";
import { refused } from "../refusals";
import { route } from "../route-policy";

// npm login / adduser (CouchDB style), whoami, logout and the user document npm owner reads.
// A login never returns an existing secret: each one mints a new dev_ token that carries the
// user's grants. Users who enabled TOTP log in with a code too (npm prompts on the 401).

/**
 * PUT /-/user/org.couchdb.user:{name}. An unknown name and a wrong password get the same answer
 * after the same work (see credentials.ts), and both count towards the lockout of the name and of
 * the address; with ALLOW_SIGNUP an unknown name becomes an account instead.
 */
export const login = route({ auth: "password", cache: "none" }, async (request, env) => {
	const couchId = decodeParam(request.params.couchId);
	if (!couchId.startsWith("org.couchdb.user:")) throw refused.hidden();
	const body = await readJson(request, CouchLoginSchema);
	if (body.name !== couchId.slice("org.couchdb.user:".length)) {
		throw refused.userNameMismatch();
	}
	const actor: Actor = { name: body.name, prefix: null, ip: clientIp(request, env), label: body.name };
	const store = authStore(env);
	const existing = await store.getUser(body.name);
	if (!existing.ok && config(env).allowSignup) {
		await signUp(env, body, actor);
	} else {
		if (!(await passwordMatches(request, env, body.name, body.password))) {
			await recordFailure(request, env, body.name, "login", actor);
			throw refused.badCredentials();
		}
		if (existing.ok && existing.value.twoFactor) await verifyOtp(request, env, body.name, actor);
	}
	const { token, hash, prefix } = await newToken("developer");
	unwrap(
		await store.createToken(
			{ hash, prefix, kind: "developer", name: body.name, user: body.name, origin: "login", grants: [] },
			actor,
		),
	);
	return json({ ok: true, id: couchId, rev: "1", token }, { status: 201 });
});

/** `npm adduser` with ALLOW_SIGNUP: an account made as the admin API makes one (worker/auth/new-user.ts). */
async function signUp(env: Env, body: { name: string; password: string; email?: string }, actor: Actor) {
	const { name, password, email } = body;
	await createAccount(env, { name, password, ...(email === undefined ? {} : { email }) }, actor);
}

/**
 * GET /-/user/org.couchdb.user:{name}: the user document. The whole of it (email included) only to
 * the user themself and to admins; other logged-in users get the name alone, which is what
 * `npm owner add` needs; customer keys, which sit in web pages, get nothing.
 */
export const getUserDocument = signedIn(
	{ auth: "signedIn", cache: "none" },
	"lookUpUsers",
	async ({ request, env, principal }) => {
		const couchId = decodeParam(request.params.couchId);
		if (!couchId.startsWith("org.couchdb.user:")) throw refused.hidden();
		const name = couchId.slice("org.couchdb.user:".length);
		const self = principal.kind === "developer" && principal.account === name;
		if (principal.kind === "customer" || (principal.kind === "developer" && principal.account === null)) {
			throw refused.userHidden();
		}
		const user = await authStore(env).getUser(name);
		if (!user.ok) throw refused.userHidden();
		const email = self || principal.kind === "admin" ? (user.value.email ?? undefined) : undefined;
		return json({ _id: couchId, name: user.value.name, email, type: "user", roles: [] });
	},
);

/** GET /-/whoami */
export const whoami = signedIn({ auth: "signedIn", cache: "none" }, "whoami", async ({ principal }) =>
	json({ username: principal.name }),
);

/** DELETE /-/user/token/{token}: npm logout revokes the token it was using. */
export const logout = signedIn(
	{ auth: "signedIn", cache: "none" },
	"whoami",
	async ({ request, env, principal, actor }) => {
		const token = decodeParam(request.params.token);
		// Only the token being presented, or an admin, can revoke a token this way.
		const presented = request.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
		if (principal.kind !== "admin" && presented !== token) throw refused.ownTokenOnly();
		const revoked = await authStore(env).revokeTokenByHash(await sha256Hex(token), actor);
		if (!revoked.ok) throw refused.tokenNotFound();
		return json({ ok: true });
	},
);

/** POST /-/npm/v1/security/advisories/bulk: no advisories are known here, so audits pass cleanly. */
export const noAdvisories = route({ auth: "none", cache: "none" }, () => json({}));

/** POST /-/v1/login: web login is not offered; npm falls back to the CouchDB login on 404. */
export const noWebLogin = route({ auth: "none", cache: "none" }, () =>
	json({ error: "web login is not supported here; npm falls back to username and password" }, { status: 404 }),
);

/** GET /health: "ok", or "misconfigured" with the secrets that are missing. */
export const health = route({ auth: "none", cache: "none" }, (_request, env) => {
	const { missingSecrets } = config(env);
	if (missingSecrets.length === 0) return json({ status: "ok" });
	return json({ status: "misconfigured", missingSecrets }, { status: 503 });
});
