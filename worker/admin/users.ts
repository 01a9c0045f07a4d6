import { randomHex } from "../../schema/hashing";
import { CreateUserSchema, GrantSchema, GrantSubjectSchema } from "../../schema/requests/admin";
import { authStore } from "../auth/auth-store";
import { hashPassword, PBKDF2_ITERATIONS } from "../auth/secrets";
import { notFound, unwrap } from "../errors";
import { admin } from "../guards";
import { decodeParam, json, readJson } from "../http";

// /-/admin/users: accounts for `npm login`, their grants and their TOTP second factor. Passwords
// are hashed here (PBKDF2) before they reach the store; the store never sees one.

/** POST /-/admin/users */
export const createUser = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
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
});

/** GET /-/admin/users */
export const listUsers = admin({ auth: "admin", cache: "none" }, async ({ env }) =>
	json({ users: await authStore(env).listUsers() }),
);

/** GET /-/admin/users/{name} */
export const getUser = admin({ auth: "admin", cache: "none" }, async ({ request, env }) => {
	const user = await authStore(env).getUser(decodeParam(request.params.name));
	if (!user.ok) throw notFound("user not found");
	return json(user.value);
});

/** POST /-/admin/users/{name}/grants: every token of the user gains it at once. */
export const grantUser = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const grant = await readJson(request, GrantSchema);
	return json(unwrap(await authStore(env).grantUser(decodeParam(request.params.name), grant, actor)).user);
});

/** DELETE /-/admin/users/{name}/grants with { package } or { scope }. */
export const ungrantUser = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const subject = await readJson(request, GrantSubjectSchema);
	return json(unwrap(await authStore(env).ungrantUser(decodeParam(request.params.name), subject, actor)).user);
});

/** POST /-/admin/users/{name}/totp: a new TOTP secret, returned once as an otpauth:// URI. */
export const enableTotp = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const { otpauth } = unwrap(await authStore(env).setTotp(decodeParam(request.params.name), true, actor));
	return json({ otpauth }, { status: 201 });
});

/** DELETE /-/admin/users/{name}/totp */
export const disableTotp = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	unwrap(await authStore(env).setTotp(decodeParam(request.params.name), false, actor));
	return json({ ok: true });
});
