import type { TokenRecord } from "../../durable-objects/auth-store";
import { CreateTokenSchema } from "../../schema/admin";
import { assertAdmin, authenticate, forgetToken, newToken } from "../auth";
import { HttpError, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest, readJson } from "../http";
import { authStore } from "../objects";

// /-/admin/tokens: developer tokens (dev_), customer keys (blk_) and admin tokens (adm_).
// The plaintext is in the create response only; listings show the prefix.

/** POST /-/admin/tokens */
export async function createToken(request: RouteRequest, env: Env): Promise<Response> {
	assertAdmin(await authenticate(request, env));
	const body = await readJson(request, CreateTokenSchema);
	if (body.kind === "customer" && body.grants.some((g) => g.permissions.some((p) => p !== "read"))) {
		throw new HttpError("unprocessable", "customer keys are read-only: grant them read only");
	}
	if (body.expiresAt !== undefined && Date.parse(body.expiresAt) <= Date.now()) {
		throw new HttpError("unprocessable", "expiresAt is in the past");
	}
	const { token, hash, prefix } = await newToken(body.kind);
	const { record } = unwrap(
		await authStore(env).createToken({
			hash,
			prefix,
			kind: body.kind,
			name: body.name,
			grants: body.grants,
			...(body.expiresAt === undefined ? {} : { expiresAt: new Date(body.expiresAt).toISOString() }),
		}),
	);
	return json({ ...present(record), token }, { status: 201 });
}

/** GET /-/admin/tokens */
export async function listTokens(request: RouteRequest, env: Env): Promise<Response> {
	assertAdmin(await authenticate(request, env));
	const records = await authStore(env).listTokens();
	return json({ tokens: records.map(present) });
}

/** DELETE /-/admin/tokens/{id}: the token stops working at once. */
export async function revokeToken(request: RouteRequest, env: Env): Promise<Response> {
	assertAdmin(await authenticate(request, env));
	const { hash } = unwrap(await authStore(env).revokeToken(decodeParam(request.params.id)));
	forgetToken(hash);
	return json({ ok: true });
}

function present(record: TokenRecord) {
	return {
		id: record.id,
		prefix: record.prefix,
		kind: record.kind,
		name: record.name,
		user: record.user,
		grants: record.grants,
		createdAt: record.createdAt,
		expiresAt: record.expiresAt,
		lastUsedAt: record.lastUsedAt,
	};
}
