import ipaddr from "ipaddr.js";
import type { TokenListing } from "../../durable-objects/auth-store";
import { NpmTokenCreateSchema } from "../../schema/npm";
import { actorOf, authenticate, forgetToken, newToken, type Principal, type TokenPrincipal } from "../auth";
import { badRequest, forbidden, notFound, unauthorized, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest, readJson } from "../http";
import { hashPassword, sha256Hex, timingSafeEqualText } from "../lib/crypto";
import { parsePackageName } from "../lib/package-name";
import { authStore } from "../objects";
import { verifyOtp } from "../two-factor";

// npm token list / create / revoke, for a logged-in user's own tokens. Creating one needs the
// user's password (and TOTP code, when enabled); the token can be read-only, limited to some of
// the user's packages and scopes, limited to CIDR ranges, and expire.

function userOf(principal: Principal): { user: string; principal: TokenPrincipal } {
	if (principal.kind === "anonymous") throw unauthorized("log in to manage your tokens");
	if (principal.kind !== "developer" || principal.user === null) {
		throw forbidden("npm token manages the tokens of a logged-in user; use the admin API for other tokens");
	}
	return { user: principal.user, principal };
}

function present(token: TokenListing) {
	return {
		key: token.id,
		token: token.prefix,
		name: token.name,
		created: token.createdAt,
		updated: token.createdAt,
		readonly: token.readonly,
		cidr_whitelist: token.cidr,
		...(token.expiresAt ? { expires: token.expiresAt } : {}),
	};
}

/** GET /-/npm/v1/tokens */
export async function listNpmTokens(request: RouteRequest, env: Env): Promise<Response> {
	const { user } = userOf(await authenticate(request, env));
	const tokens = await authStore(env).listTokens({ user });
	return json({ objects: tokens.map(present), total: tokens.length, urls: {} });
}

/** POST /-/npm/v1/tokens */
export async function createNpmToken(request: RouteRequest, env: Env): Promise<Response> {
	const { user, principal } = userOf(await authenticate(request, env));
	const body = await readJson(request, NpmTokenCreateSchema);
	const store = authStore(env);
	const credentials = await store.userCredentials(user);
	const attempt = credentials ? await hashPassword(body.password, credentials.salt, credentials.iterations) : "";
	if (!credentials || !(await timingSafeEqualText(attempt, credentials.hash))) {
		throw unauthorized("incorrect password");
	}
	if (principal.totp) await verifyOtp(request, env, user);
	const cidr = body.cidr_whitelist ?? [];
	const invalid = cidr.find((range) => !ipaddr.isValidCIDR(range));
	if (invalid !== undefined) throw badRequest(`invalid CIDR range: ${invalid}`);
	const packages = (body.packages ?? []).map((name) => parsePackageName(name).name);
	const scopes = (body.scopes ?? []).map((scope) => `@${scope.replace(/^@/, "")}`);
	const readonly = body.readonly === true || body.packages_and_scopes_permission === "read-only";

	const { token, hash, prefix } = await newToken("developer");
	const { token: created } = unwrap(
		await store.createToken(
			{
				hash,
				prefix,
				kind: "developer",
				name: body.name ?? `${user} (npm token)`,
				user,
				origin: "npm",
				grants: [],
				readonly,
				...(cidr.length > 0 ? { cidr } : {}),
				...(packages.length > 0 || scopes.length > 0 ? { restrictTo: { packages, scopes } } : {}),
				...(body.expires === undefined
					? {}
					: { expiresAt: new Date(Date.now() + body.expires * 86_400_000).toISOString() }),
				...(body.bypass_2fa ? { bypassTwoFactor: true } : {}),
			},
			actorOf(principal),
		),
	);
	return json({ ...present(created), token }, { status: 201 });
}

/** DELETE /-/npm/v1/tokens/token/{key}: `key` is a token's id, or the token itself. */
export async function revokeNpmToken(request: RouteRequest, env: Env): Promise<Response> {
	const { user, principal } = userOf(await authenticate(request, env));
	if (principal.totp) await verifyOtp(request, env, user);
	const key = decodeParam(request.params.key);
	const store = authStore(env);
	if (/^(dev|blk|adm)_/.test(key)) {
		const hash = await sha256Hex(key);
		if (!(await store.revokeTokenByHash(hash, actorOf(principal), user))) throw notFound("token not found");
		forgetToken(hash);
	} else {
		const result = await store.revokeToken(key, actorOf(principal), user);
		if (!result.ok) throw notFound("token not found");
		forgetToken(result.hash);
	}
	return new Response(null, { status: 204 });
}
