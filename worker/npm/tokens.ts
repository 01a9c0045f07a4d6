import ipaddr from "ipaddr.js";
import type { TokenListing } from "../../schema/auth/contract";
import { sha256Hex } from "../../schema/hashing";
import { NpmTokenCreateSchema } from "../../schema/requests/npm";
import { authStore } from "../auth/auth-store";
import { passwordMatches, recordFailure } from "../auth/credentials";
import { newToken, type Principal, type TokenPrincipal } from "../auth/principal";
import { verifyOtp } from "../auth/two-factor";
import { unwrap } from "../errors";
import { signedIn } from "../guards";
import { decodeParam, json, readJson } from "../http";
import { packageName } from "../params";
import { refused } from "../refusals";

// npm token list / create / revoke, for a logged-in user's own tokens. Creating one needs the
// user's password (and TOTP code, when enabled); the token can be read-only, limited to some of
// the user's packages and scopes, limited to CIDR ranges, and expire.

const LOG_IN = "manageTokens";

function userOf(principal: Principal): { user: string; principal: TokenPrincipal } {
	if (principal.kind !== "developer" || principal.account === null) {
		throw refused.npmTokensForUsers();
	}
	return { user: principal.account, principal };
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
export const listNpmTokens = signedIn({ auth: "signedIn", cache: "none" }, LOG_IN, async ({ env, principal }) => {
	const { user } = userOf(principal);
	const tokens = await authStore(env).listTokens({ user });
	return json({ objects: tokens.map(present), total: tokens.length, urls: {} });
});

/** POST /-/npm/v1/tokens */
export const createNpmToken = signedIn(
	{ auth: "signedIn", cache: "none" },
	LOG_IN,
	async ({ request, env, principal: caller, actor }) => {
		const { user, principal } = userOf(caller);
		const body = await readJson(request, NpmTokenCreateSchema);
		// A token limited to reading, or to some packages, cannot mint one that may do more.
		if (principal.readonly || principal.restricted) {
			throw refused.limitedTokenCannotCreate();
		}
		if (!(await passwordMatches(request, env, user, body.password))) {
			await recordFailure(request, env, user, "password", actor);
			throw refused.badPassword();
		}
		if (principal.totp) await verifyOtp(request, env, user, actor);
		else if (body.bypass_2fa) {
			throw refused.bypassNeedsTwoFactor();
		}
		const cidr = body.cidr_whitelist ?? [];
		const invalid = cidr.find((range) => !ipaddr.isValidCIDR(range));
		if (invalid !== undefined) throw refused.badCidr(invalid);
		const packages = (body.packages ?? []).map((name) => packageName(name).name);
		const scopes = (body.scopes ?? []).map((scope) => `@${scope.replace(/^@/, "")}`);
		const readonly = body.readonly === true || body.packages_and_scopes_permission === "read-only";

		const { token, hash, prefix } = await newToken("developer");
		const { token: created } = unwrap(
			await authStore(env).createToken(
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
				actor,
			),
		);
		return json({ ...present(created), token }, { status: 201 });
	},
);

/** DELETE /-/npm/v1/tokens/token/{key}: `key` is a token's id, or the token itself. */
export const revokeNpmToken = signedIn(
	{ auth: "signedIn", cache: "none" },
	LOG_IN,
	async ({ request, env, principal: caller, actor }) => {
		const { user, principal } = userOf(caller);
		if (principal.totp) await verifyOtp(request, env, user, actor);
		const key = decodeParam(request.params.key);
		const store = authStore(env);
		const result = /^(dev|blk|adm)_/.test(key)
			? await store.revokeTokenByHash(await sha256Hex(key), actor, user)
			: await store.revokeToken(key, actor, user);
		if (!result.ok) throw refused.tokenNotFound();
		return new Response(null, { status: 204 });
	},
);
