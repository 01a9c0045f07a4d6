import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { router } from "../worker/router";
import { ADMIN, uniqueName } from "./helpers/registry";

// One way to make an account (#23.5): the admin API and `npm adduser` (with ALLOW_SIGNUP) both go
// through worker/auth/new-user.ts, with one password rule, 8 to 1024 characters.

function fetchWith(vars: Partial<Env>, path: string, init: RequestInit) {
	return router.fetch(new Request(`http://registry.test${path}`, init), { ...env, ...vars }, createExecutionContext());
}

const byAdmin = (name: string, password: string) =>
	fetchWith({}, "/-/admin/users", {
		method: "POST",
		headers: { authorization: `Bearer ${ADMIN}` },
		body: JSON.stringify({ name, password }),
	});

const byAdduser = (name: string, password: string) =>
	fetchWith({ ALLOW_SIGNUP: "true" }, `/-/user/org.couchdb.user:${name}`, {
		method: "PUT",
		body: JSON.stringify({ name, password, email: `${name}@example.com`, type: "user" }),
	});

describe.each([
	["the admin API", byAdmin],
	["npm adduser", byAdduser],
])("an account made through %s", (_, create) => {
	it("needs a password of 8 to 1024 characters, refused the same way outside them (#23.5)", async () => {
		const short = await create(uniqueName("u"), "x".repeat(7));
		expect(short.status).toBe(400);
		expect(await short.json()).toEqual({
			error: "password: password must be at least 8 characters",
			code: "badRequest",
		});
		const long = await create(uniqueName("u"), "x".repeat(1025));
		expect(long.status).toBe(400);
		expect(await long.json()).toEqual({
			error: "password: password must be at most 1024 characters",
			code: "badRequest",
		});
		expect((await create(uniqueName("u"), "x".repeat(8))).status).toBe(201);
		expect((await create(uniqueName("u"), "x".repeat(1024))).status).toBe(201);
	});

	it("can log in with npm login afterwards (#23.5)", async () => {
		const name = uniqueName("u");
		expect((await create(name, "a-long-password")).status).toBe(201);
		const login = await fetchWith({}, `/-/user/org.couchdb.user:${name}`, {
			method: "PUT",
			body: JSON.stringify({ name, password: "a-long-password" }),
		});
		expect(login.status).toBe(201);
		const { token } = (await login.json()) as { token: string };
		const whoami = await fetchWith({}, "/-/whoami", { method: "GET", headers: { authorization: `Bearer ${token}` } });
		expect(await whoami.json()).toEqual({ username: name });
	});
});
