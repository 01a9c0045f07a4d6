import { CreateTokenSchema, GrantSchema, GrantSubjectSchema } from "../../schema/admin";
import { forgetToken, newToken } from "../auth";
import { HttpError, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest, readJson } from "../http";
import { authStore } from "../objects";
import { requireAdmin } from "./guard";

// /-/admin/tokens: developer tokens (dev_), customer keys (blk_) and admin tokens (adm_). The
// plaintext is in the create and rotate responses only; listings show the prefix.

/** POST /-/admin/tokens */
export async function createToken(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const body = await readJson(request, CreateTokenSchema);
	if (body.kind === "customer" && body.grants.some((g) => g.permissions.some((p) => p !== "read"))) {
		throw new HttpError("unprocessable", "customer keys are read-only: grant them read only");
	}
	if (body.customer !== undefined && body.kind !== "customer") {
		throw new HttpError("unprocessable", "only customer keys belong to a customer");
	}
	if (body.expiresAt !== undefined && Date.parse(body.expiresAt) <= Date.now()) {
		throw new HttpError("unprocessable", "expiresAt is in the past");
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
	return json({ ...created.token, token }, { status: 201 });
}

/** GET /-/admin/tokens[?user=…][&customer=…] */
export async function listTokens(request: RouteRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	const { user, customer } = request.query;
	const tokens = await authStore(env).listTokens({
		...(typeof user === "string" ? { user } : {}),
		...(typeof customer === "string" ? { customer } : {}),
	});
	return json({ tokens });
}

/** DELETE /-/admin/tokens/{id}: the token stops working at once. */
export async function revokeToken(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const { hash } = unwrap(await authStore(env).revokeToken(decodeParam(request.params.id), actor));
	forgetToken(hash);
	return json({ ok: true });
}

/** POST /-/admin/tokens/{id}/rotate: a new secret, shown once; the old one stops working. */
export async function rotateToken(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const id = decodeParam(request.params.id);
	const listed = await authStore(env).getToken(id);
	if (!listed) throw new HttpError("notFound", `token ${id} does not exist`);
	const { token, hash, prefix } = await newToken(listed.kind);
	const rotated = unwrap(await authStore(env).rotateToken(id, hash, prefix, actor));
	forgetToken(rotated.oldHash);
	return json({ ...rotated.token, token });
}

/** POST /-/admin/tokens/{id}/grants: adds a grant (or changes the permissions of one). */
export async function grantToken(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const grant = await readJson(request, GrantSchema);
	const { token, hashes } = unwrap(await authStore(env).grantToken(decodeParam(request.params.id), grant, actor));
	hashes.forEach(forgetToken);
	return json(token);
}

/** DELETE /-/admin/tokens/{id}/grants with { package } or { scope }. */
export async function ungrantToken(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const subject = await readJson(request, GrantSubjectSchema);
	const { token, hashes } = unwrap(await authStore(env).ungrantToken(decodeParam(request.params.id), subject, actor));
	hashes.forEach(forgetToken);
	return json(token);
}
