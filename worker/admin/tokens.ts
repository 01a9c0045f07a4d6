import type { Actor } from "../../schema/audit";
import type { TokenListing } from "../../schema/auth/contract";
import { CreateTokenSchema, GrantSchema, GrantSubjectSchema } from "../../schema/requests/admin";
import { authStore } from "../auth/auth-store";
import { newToken } from "../auth/principal";
import { unwrap } from "../errors";
import { admin } from "../guards";
import { decodeParam, json, readJson, readJsonBody, validate } from "../http";
import { refused } from "../refusals";

// /-/admin/tokens: developer tokens (dev_), customer keys (blk_) and admin tokens (adm_). The
// plaintext is in the create and rotate responses only; listings show the prefix.

/** POST /-/admin/tokens */
export const createToken = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) =>
	json(await issueToken(env, await readJsonBody(request), actor), { status: 201 }),
);

/**
 * A new token from what the caller sent (validated here), with its plaintext: the one way a token
 * is issued by an admin, whether through this API or the admin pages (worker/web/admin-tokens.ts).
 */
export async function issueToken(env: Env, input: unknown, actor: Actor): Promise<TokenListing & { token: string }> {
	const body = validate(CreateTokenSchema, input);
	if (body.kind === "customer" && body.grants.some((g) => g.permissions.some((p) => p !== "read"))) {
		throw refused.customerKeysReadOnly();
	}
	if (body.customer !== undefined && body.kind !== "customer") {
		throw refused.customerOnlyForCustomerKeys();
	}
	if (body.expiresAt !== undefined && Date.parse(body.expiresAt) <= Date.now()) {
		throw refused.expiryInThePast();
	}
	const { token, hash, prefix } = await newToken(body.kind);
	const created = unwrap(
		await authStore(env).createToken(
			{
				hash,
				prefix,
				kind: body.kind,
				name: body.name,
				grants: body.grants,
				...(body.customer === undefined ? {} : { customer: body.customer }),
				...(body.cidr === undefined ? {} : { cidr: body.cidr }),
				...(body.expiresAt === undefined ? {} : { expiresAt: new Date(body.expiresAt).toISOString() }),
			},
			actor,
		),
	);
	return { ...created.token, token };
}

/** GET /-/admin/tokens[?user=…][&customer=…] */
export const listTokens = admin({ auth: "admin", cache: "none" }, async ({ request, env }) => {
	const { user, customer } = request.query;
	const tokens = await authStore(env).listTokens({
		...(typeof user === "string" ? { user } : {}),
		...(typeof customer === "string" ? { customer } : {}),
	});
	return json({ tokens });
});

/** DELETE /-/admin/tokens/{id}: the token stops working at once. */
export const revokeToken = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	unwrap(await authStore(env).revokeToken(decodeParam(request.params.id), actor));
	return json({ ok: true });
});

/** POST /-/admin/tokens/{id}/rotate: a new secret, shown once; the old one stops working. */
export const rotateToken = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) =>
	json(await rotateSecret(env, decodeParam(request.params.id), actor)),
);

/** A token's new secret (the API's rotate and the admin pages'): the old one stops working at once. */
export async function rotateSecret(env: Env, id: string, actor: Actor): Promise<TokenListing & { token: string }> {
	const store = authStore(env);
	const listed = unwrap(await store.getToken(id));
	const { token, hash, prefix } = await newToken(listed.kind);
	const rotated = unwrap(await store.rotateToken(id, hash, prefix, actor));
	return { ...rotated.token, token };
}

/** POST /-/admin/tokens/{id}/grants: adds a grant (or changes the permissions of one). */
export const grantToken = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const grant = await readJson(request, GrantSchema);
	return json(unwrap(await authStore(env).grantToken(decodeParam(request.params.id), grant, actor)).token);
});

/** DELETE /-/admin/tokens/{id}/grants with { package } or { scope }. */
export const ungrantToken = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const subject = await readJson(request, GrantSubjectSchema);
	return json(unwrap(await authStore(env).ungrantToken(decodeParam(request.params.id), subject, actor)).token);
});
