import type { Actor } from "../../durable-objects/audit";
import { CouchLoginSchema } from "../../schema/npm";
import { actorOf, authenticate, clientIp, forgetToken, newToken } from "../auth";
import { badRequest, HttpError, notFound, unauthorized, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest, readJson } from "../http";
import { hashPassword, PBKDF2_ITERATIONS, randomHex, sha256Hex, timingSafeEqualText } from "../lib/crypto";
import { authStore } from "../objects";
import { limitFailedAuthentication } from "../rate-limits";
import { verifyOtp } from "../two-factor";

// npm login / adduser (CouchDB style), whoami, logout and the user document npm owner reads.
// A login never returns an existing secret: each one mints a new dev_ token that carries the
// user's grants. Users who enabled TOTP log in with a code too (npm prompts on the 401).

/** PUT /-/user/org.couchdb.user:{name} */
export async function login(request: RouteRequest, env: Env): Promise<Response> {
	const couchId = decodeParam(request.params.couchId);
	if (!couchId.startsWith("org.couchdb.user:")) throw notFound();
	const body = await readJson(request, CouchLoginSchema);
	if (body.name !== couchId.slice("org.couchdb.user:".length)) {
		throw badRequest("the user name in the body does not match the URL");
	}
	const ip = clientIp(request);
	const actor: Actor = { name: body.name, prefix: null, ip, label: body.name };
	const store = authStore(env);
	const credentials = await store.userCredentials(body.name);
	if (credentials === null) {
		if (env.ALLOW_SIGNUP !== "true") {
			// Unknown user and wrong password look the same, so names cannot be probed.
			if (body.email === undefined) return refuseLogin(env, ip, actor);
			throw new HttpError("forbidden", "signup is disabled on this registry: ask an admin for an account");
		}
		if (body.password.length < 8) throw badRequest("password must be at least 8 characters");
		const salt = randomHex(16);
		unwrap(
			await store.createUser(
				{
					name: body.name,
					...(body.email === undefined ? {} : { email: body.email }),
					passwordHash: await hashPassword(body.password, salt, PBKDF2_ITERATIONS),
					salt,
					iterations: PBKDF2_ITERATIONS,
					grants: [],
				},
				actor,
			),
		);
	} else {
		const attempt = await hashPassword(body.password, credentials.salt, credentials.iterations);
		if (!(await timingSafeEqualText(attempt, credentials.hash))) return refuseLogin(env, ip, actor);
		if ((await store.getUser(body.name))?.twoFactor) await verifyOtp(request, env, body.name);
	}
	const { token, hash, prefix } = await newToken("developer");
	unwrap(
		await store.createToken(
			{ hash, prefix, kind: "developer", name: body.name, user: body.name, origin: "login", grants: [] },
			actor,
		),
	);
	return json({ ok: true, id: couchId, rev: "1", token }, { status: 201 });
}

async function refuseLogin(env: Env, ip: string | null, actor: Actor): Promise<never> {
	await limitFailedAuthentication(env, ip);
	await authStore(env).audit(actor, "login.failed", actor.name, null);
	throw unauthorized("incorrect username or password");
}

/** GET /-/user/org.couchdb.user:{name}: what npm owner add needs (name, email), for logged-in users. */
export async function getUserDocument(request: RouteRequest, env: Env): Promise<Response> {
	const couchId = decodeParam(request.params.couchId);
	if (!couchId.startsWith("org.couchdb.user:")) throw notFound();
	const principal = await authenticate(request, env);
	if (principal.kind === "anonymous") throw unauthorized("log in to look users up");
	const user = await authStore(env).getUser(couchId.slice("org.couchdb.user:".length));
	if (!user) throw notFound("user not found");
	return json({ _id: couchId, name: user.name, email: user.email ?? undefined, type: "user", roles: [] });
}

/** GET /-/whoami */
export async function whoami(request: RouteRequest, env: Env): Promise<Response> {
	const principal = await authenticate(request, env);
	if (principal.kind === "anonymous") throw unauthorized("not logged in");
	return json({ username: principal.username });
}

/** DELETE /-/user/token/{token}: npm logout revokes the token it was using. */
export async function logout(request: RouteRequest, env: Env): Promise<Response> {
	const token = decodeParam(request.params.token);
	const principal = await authenticate(request, env);
	if (principal.kind === "anonymous") throw unauthorized("not logged in");
	const hash = await sha256Hex(token);
	// Only the token being presented, or an admin, can revoke a token this way.
	const presented = request.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
	if (principal.kind !== "admin" && presented !== token) {
		throw new HttpError("forbidden", "you can only log out your own token");
	}
	if (!(await authStore(env).revokeTokenByHash(hash, actorOf(principal)))) throw notFound("token not found");
	forgetToken(hash);
	return json({ ok: true });
}

/** POST /-/npm/v1/security/advisories/bulk: no advisories are known here, so audits pass cleanly. */
export function noAdvisories(): Response {
	return json({});
}

/** POST /-/v1/login: web login is not offered; npm falls back to the CouchDB login on 404. */
export function noWebLogin(): Response {
	return json({ error: "web login is not supported here; npm falls back to username and password" }, { status: 404 });
}

/** GET /health */
export function health(): Response {
	return json({ status: "ok" });
}
