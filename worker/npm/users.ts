import { CouchLoginSchema } from "../../schema/npm";
import { authenticate, forgetToken, newToken } from "../auth";
import { badRequest, HttpError, notFound, unauthorized, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest, readJson } from "../http";
import { hashPassword, PBKDF2_ITERATIONS, randomHex, sha256Hex, timingSafeEqualText } from "../lib/crypto";
import { authStore } from "../objects";

// npm login / adduser (CouchDB style), whoami and logout. A login never returns an existing
// secret: each one mints a new dev_ token that carries the user's grants.

/** PUT /-/user/org.couchdb.user:{name} */
export async function login(request: RouteRequest, env: Env): Promise<Response> {
	const couchId = decodeParam(request.params.couchId);
	if (!couchId.startsWith("org.couchdb.user:")) throw notFound();
	const body = await readJson(request, CouchLoginSchema);
	if (body.name !== couchId.slice("org.couchdb.user:".length)) {
		throw badRequest("the user name in the body does not match the URL");
	}
	const store = authStore(env);
	const credentials = await store.userCredentials(body.name);
	if (credentials === null) {
		if (env.ALLOW_SIGNUP !== "true") {
			// Unknown user and wrong password look the same, so names cannot be probed.
			if (body.email === undefined) throw unauthorized("incorrect username or password");
			throw new HttpError("forbidden", "signup is disabled on this registry: ask an admin for an account");
		}
		if (body.password.length < 8) throw badRequest("password must be at least 8 characters");
		const salt = randomHex(16);
		unwrap(
			await store.createUser({
				name: body.name,
				...(body.email === undefined ? {} : { email: body.email }),
				passwordHash: await hashPassword(body.password, salt, PBKDF2_ITERATIONS),
				salt,
				iterations: PBKDF2_ITERATIONS,
				grants: [],
			}),
		);
	} else {
		const attempt = await hashPassword(body.password, credentials.salt, credentials.iterations);
		if (!(await timingSafeEqualText(attempt, credentials.hash))) throw unauthorized("incorrect username or password");
	}
	const { token, hash, prefix } = await newToken("developer");
	unwrap(await store.createToken({ hash, prefix, kind: "developer", name: body.name, user: body.name, grants: [] }));
	return json({ ok: true, id: couchId, rev: "1", token }, { status: 201 });
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
	if (principal.kind !== "admin" && presented !== token)
		throw new HttpError("forbidden", "you can only log out your own token");
	if (!(await authStore(env).revokeTokenByHash(hash))) throw notFound("token not found");
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
