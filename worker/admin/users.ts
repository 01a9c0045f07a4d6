import { CreateUserSchema, GrantSchema, GrantSubjectSchema } from "../../schema/admin";
import { forgetToken } from "../auth";
import { notFound, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest, readJson } from "../http";
import { hashPassword, PBKDF2_ITERATIONS, randomHex } from "../lib/crypto";
import { authStore } from "../objects";
import { requireAdmin } from "./guard";

// /-/admin/users: accounts for `npm login`, their grants and their TOTP second factor. Passwords
// are hashed here (PBKDF2) before they reach the store; the store never sees one.

/** POST /-/admin/users */
export async function createUser(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const body = await readJson(request, CreateUserSchema);
	const salt = randomHex(16);
	const { user } = unwrap(
		await authStore(env).createUser(
			{
				name: body.name,
				...(body.email === undefined ? {} : { email: body.email }),
				passwordHash: await hashPassword(body.password, salt, PBKDF2_ITERATIONS),
				salt,
				iterations: PBKDF2_ITERATIONS,
				grants: body.grants,
			},
			actor,
		),
	);
	return json(user, { status: 201 });
}

/** GET /-/admin/users */
export async function listUsers(request: RouteRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	return json({ users: await authStore(env).listUsers() });
}

/** GET /-/admin/users/{name} */
export async function getUser(request: RouteRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	const user = await authStore(env).getUser(decodeParam(request.params.name));
	if (!user) throw notFound("user not found");
	return json(user);
}

/** POST /-/admin/users/{name}/grants: every token of the user gains it at once. */
export async function grantUser(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const grant = await readJson(request, GrantSchema);
	const { user, hashes } = unwrap(await authStore(env).grantUser(decodeParam(request.params.name), grant, actor));
	hashes.forEach(forgetToken);
	return json(user);
}

/** DELETE /-/admin/users/{name}/grants with { package } or { scope }. */
export async function ungrantUser(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const subject = await readJson(request, GrantSubjectSchema);
	const { user, hashes } = unwrap(await authStore(env).ungrantUser(decodeParam(request.params.name), subject, actor));
	hashes.forEach(forgetToken);
	return json(user);
}

/** POST /-/admin/users/{name}/totp: a new TOTP secret, returned once as an otpauth:// URI. */
export async function enableTotp(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const { otpauth, hashes } = unwrap(await authStore(env).setTotp(decodeParam(request.params.name), true, actor));
	hashes.forEach(forgetToken);
	return json({ otpauth }, { status: 201 });
}

/** DELETE /-/admin/users/{name}/totp */
export async function disableTotp(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const { hashes } = unwrap(await authStore(env).setTotp(decodeParam(request.params.name), false, actor));
	hashes.forEach(forgetToken);
	return json({ ok: true });
}
