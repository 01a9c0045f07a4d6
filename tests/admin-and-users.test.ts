import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN, ALL, call, createToken, publish, uniqueName } from "./helpers/registry";

// The admin API (tokens, users) and the npm account endpoints (login, whoami, logout, ping).

const json = (body: unknown) => JSON.stringify(body);

describe("admin tokens", () => {
	it("creates a token shown once, lists it by prefix only, and revokes it at once", async () => {
		const res = await call("/-/admin/tokens", {
			method: "POST",
			token: ADMIN,
			body: json({ kind: "developer", name: "ci-bot", grants: [{ scope: "@acc", permissions: ALL }] }),
		});
		expect(res.status).toBe(201);
		const created = (await res.json()) as Record<string, string>;
		expect(created).toMatchObject({ kind: "developer", name: "ci-bot", grants: [{ scope: "@acc", permissions: ALL }] });
		expect(created.token).toMatch(/^dev_[0-9a-f]{64}$/);
		expect(created.prefix).toBe(created.token?.slice(0, 12));
		expect(created.createdAt).toMatch(/^\d{4}-/);

		const listing = await (await call("/-/admin/tokens", { token: ADMIN })).text();
		expect(listing).toContain(created.prefix);
		expect(listing).not.toContain(created.token);

		expect((await call("/-/whoami", { token: created.token })).status).toBe(200);
		expect((await call(`/-/admin/tokens/${created.id}`, { method: "DELETE", token: ADMIN })).status).toBe(200);
		const after = await call("/-/whoami", { token: created.token });
		expect(after.status).toBe(401);
		expect(after.headers.get("www-authenticate")).toMatch(/Bearer/);
		expect(await (await call("/-/admin/tokens", { token: ADMIN })).text()).not.toContain(created.prefix);
		expect((await call(`/-/admin/tokens/${created.id}`, { method: "DELETE", token: ADMIN })).status).toBe(404);
	});

	it("gives customer keys the blk_ prefix and refuses them write permissions", async () => {
		const key = await createToken([{ package: "acc-b", permissions: ["read"] }], "customer");
		expect(key.token).toMatch(/^blk_/);
		const res = await call("/-/admin/tokens", {
			method: "POST",
			token: ADMIN,
			body: json({ kind: "customer", name: "c", grants: [{ package: "acc-b", permissions: ["read", "publish"] }] }),
		});
		expect(res.status).toBe(422);
	});

	it.each([
		[{ kind: "root", name: "x" }, /kind/],
		[{ kind: "developer" }, /name/],
		[{ kind: "developer", name: "x", grants: [{ package: "Bad Name", permissions: ["read"] }] }, /grant/],
		[{ kind: "developer", name: "x", grants: [{ scope: "@acc", permissions: ["delete"] }] }, /grant|permissions/],
		[{ kind: "developer", name: "x", grants: [{ scope: "@acc", permissions: [] }] }, /grant|permission/],
		[{ kind: "developer", name: "x", extra: true }, /extra|key/i],
		[{ kind: "developer", name: "x", expiresAt: "tomorrow" }, /expiresAt/],
	])("refuses an invalid token request %j", async (body, message) => {
		const res = await call("/-/admin/tokens", { method: "POST", token: ADMIN, body: json(body) });
		expect(res.status).toBe(400);
		expect(((await res.json()) as { error: string }).error).toMatch(message);
	});

	it("needs the admin token", async () => {
		const developer = await createToken([{ scope: "@acc", permissions: ALL }]);
		expect((await call("/-/admin/tokens")).status).toBe(401);
		expect((await call("/-/admin/tokens", { token: developer.token })).status).toBe(403);
		expect((await call("/-/admin/tokens", { token: "wrong-admin-token" })).status).toBe(401);
		const admin = await createToken([], "admin");
		expect(admin.token).toMatch(/^adm_/);
		expect((await call("/-/admin/tokens", { token: admin.token })).status).toBe(200);
	});

	it("stores only hashes of tokens and passwords", async () => {
		const token = await createToken([{ scope: "@acc", permissions: ALL }]);
		const user = uniqueName("u");
		const password = "correct horse battery staple";
		await call("/-/admin/users", { method: "POST", token: ADMIN, body: json({ name: user, password }) });
		// White-box on purpose: what is at rest is the subject, and no API would ever show a secret.
		const stub = env.AUTH.get(env.AUTH.idFromName("auth"));
		const dump = await runInDurableObject(stub, (_instance, state) => {
			const tables = ["tokens", "users", "grants"];
			return tables.map((t) => JSON.stringify(state.storage.sql.exec(`SELECT * FROM ${t}`).toArray())).join("\n");
		});
		expect(dump).toContain(token.prefix);
		expect(dump).not.toContain(token.token);
		expect(dump).not.toContain(password);
	});
});

describe("npm login, whoami, logout", () => {
	const login = (name: string, password: string, email?: string) =>
		call(`/-/user/org.couchdb.user:${name}`, {
			method: "PUT",
			body: json({ _id: `org.couchdb.user:${name}`, name, password, type: "user", roles: [], email }),
		});

	it("logs an existing user in with a new dev_ token carrying the user's grants", async () => {
		const name = uniqueName("u");
		const pkg = uniqueName();
		const created = await call("/-/admin/users", {
			method: "POST",
			token: ADMIN,
			body: json({
				name,
				password: "s3cret-pass",
				email: `${name}@example.com`,
				grants: [{ package: pkg, permissions: ALL }],
			}),
		});
		expect(created.status).toBe(201);
		const res = await login(name, "s3cret-pass");
		expect(res.status).toBe(201);
		const { token } = (await res.json()) as { token: string };
		expect(token).toMatch(/^dev_/);
		expect(await (await call("/-/whoami", { token })).json()).toEqual({ username: name });
		expect((await publish(pkg, "1.0.0", token)).status).toBe(201);
		const doc = (await (await call(`/${pkg}`, { token })).json()) as { maintainers: unknown[] };
		expect(doc.maintainers).toEqual([{ name, email: `${name}@example.com` }]);

		const second = ((await (await login(name, "s3cret-pass")).json()) as { token: string }).token;
		expect(second).not.toBe(token);
		expect((await call(`/-/user/token/${token}`, { method: "DELETE", token })).status).toBe(200);
		expect((await call("/-/whoami", { token })).status).toBe(401);
		expect((await call("/-/whoami", { token: second })).status).toBe(200);
	});

	it("refuses a wrong password and an unknown user alike, and signup while it is off", async () => {
		const name = uniqueName("u");
		await call("/-/admin/users", { method: "POST", token: ADMIN, body: json({ name, password: "right-password" }) });
		const wrong = await login(name, "wrong-password");
		expect(wrong.status).toBe(401);
		const unknown = await login(uniqueName("nobody"), "whatever-pass");
		expect(unknown.status).toBe(401);
		expect(((await wrong.json()) as { error: string }).error).toBe(((await unknown.json()) as { error: string }).error);
		// An attempted signup while it is off is a failed login like any other: no status tells a
		// free name from a taken one (#9 item 7).
		const signup = await login(uniqueName("new"), "whatever-pass", "new@example.com");
		expect(signup.status).toBe(401);
		const mismatch = await call(`/-/user/org.couchdb.user:${name}`, {
			method: "PUT",
			body: json({ name: "someone-else", password: "right-password" }),
		});
		expect(mismatch.status).toBe(400);
	});

	it("refuses duplicate and invalid users", async () => {
		const name = uniqueName("u");
		const create = (body: unknown) => call("/-/admin/users", { method: "POST", token: ADMIN, body: json(body) });
		expect((await create({ name, password: "long-enough" })).status).toBe(201);
		expect((await create({ name, password: "long-enough" })).status).toBe(409);
		expect((await create({ name: "Bad Name", password: "long-enough" })).status).toBe(400);
		expect((await create({ name: uniqueName("u"), password: "short" })).status).toBe(400);
	});

	it("answers whoami for admin-API tokens and the admin token, and 401 anonymously", async () => {
		const token = await createToken([], "developer", "deploy-bot");
		expect(await (await call("/-/whoami", { token: token.token })).json()).toEqual({ username: "deploy-bot" });
		expect(await (await call("/-/whoami", { token: ADMIN })).json()).toEqual({ username: "admin" });
		expect((await call("/-/whoami")).status).toBe(401);
	});
});

describe("registry endpoints", () => {
	it("answers ping, the advisories audit and web login as npm expects", async () => {
		expect(await (await call("/-/ping?write=true")).json()).toEqual({});
		// npm ping "verifies authentication": a token given is checked, a bad one refused as on any read.
		const token = await createToken([], "developer", "pinger");
		expect(await (await call("/-/ping?write=true", { token: token.token })).json()).toEqual({});
		const wrong = await call("/-/ping?write=true", { token: `dev_${"0".repeat(64)}` });
		expect(wrong.status).toBe(401);
		expect(await wrong.json()).toMatchObject({ error: expect.any(String) });
		const audit = await call("/-/npm/v1/security/advisories/bulk", { method: "POST", body: json({ a: ["1.0.0"] }) });
		expect(audit.status).toBe(200);
		expect(await audit.json()).toEqual({});
		expect((await call("/-/v1/login", { method: "POST", body: "{}" })).status).toBe(404);
		const unknown = await call("/-/nothing-here");
		expect(unknown.status).toBe(404);
		expect(await unknown.json()).toMatchObject({ error: "not_found" });
	});

	it("answers HEAD like GET without a body", async () => {
		const name = uniqueName();
		const token = (await createToken([{ package: name, permissions: ALL }])).token;
		await publish(name, "1.0.0", token);
		const res = await call(`/${name}/-/${name}-1.0.0.tgz`, { method: "HEAD", token });
		expect(res.status).toBe(200);
		expect(res.headers.get("content-length")).toMatch(/^\d+$/);
		expect(await res.text()).toBe("");
	});
});
