import { GrantSchema, GrantSubjectSchema } from "../../schema/requests/admin";
import { authStore } from "../auth/auth-store";
import { createAccount } from "../auth/new-user";
import { unwrap } from "../errors";
import { admin } from "../guards";
import { decodeParam, json, readJson, readJsonBody } from "../http";
import { refused } from "../refusals";

// /-/admin/users: accounts for `npm login`, their grants and their TOTP second factor. Accounts are
// made by createAccount (worker/auth/new-user.ts), as `npm adduser` makes them.

/** POST /-/admin/users */
export const createUser = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) =>
	json(await createAccount(env, await readJsonBody(request), actor), { status: 201 }),
);

/** GET /-/admin/users */
export const listUsers = admin({ auth: "admin", cache: "none" }, async ({ env }) =>
	json({ users: await authStore(env).listUsers() }),
);

/** GET /-/admin/users/{name} */
export const getUser = admin({ auth: "admin", cache: "none" }, async ({ request, env }) => {
	const name = decodeParam(request.params.name);
	const user = await authStore(env).getUser(name);
	if (!user.ok) throw refused.userNotFound(name);
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
