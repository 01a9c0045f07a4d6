import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { router } from "../worker/router";
import { publish, publishBody, publisherFor, readPackument, uniqueName } from "./helpers/registry";

// Behaviour that depends on wrangler.jsonc vars, driven through the real router and bindings
// with one var changed.

function fetchWith(vars: Partial<Env>, path: string, init: RequestInit = {}) {
	return router.fetch(new Request(`http://registry.test${path}`, init), { ...env, ...vars }, createExecutionContext());
}

describe("vars", () => {
	it("writes PUBLIC_URL into dist.tarball instead of the request's origin", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const res = await fetchWith({ PUBLIC_URL: "https://npm.example.com/" }, `/${name}`, {
			headers: { authorization: `Bearer ${token}` },
		});
		const doc = (await res.json()) as { versions: Record<string, { dist: { tarball: string } }> };
		expect(doc.versions["1.0.0"]?.dist.tarball).toBe(`https://npm.example.com/${name}/-/${name}-1.0.0.tgz`);
		expect((await readPackument(name, token)).versions["1.0.0"]?.dist.tarball).toMatch(/^http:\/\/registry\.test\//);
	});

	it("makes new packages public when DEFAULT_ACCESS is public", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		const { body } = await publishBody(name, "1.0.0");
		const res = await fetchWith({ DEFAULT_ACCESS: "public" }, `/${name}`, {
			method: "PUT",
			headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
			body: JSON.stringify(body),
		});
		expect(res.status).toBe(201);
		expect((await fetchWith({}, `/${name}`)).status).toBe(200);
	});

	it("lets npm adduser create an account only when ALLOW_SIGNUP is true", async () => {
		const name = uniqueName("new");
		const adduser = (vars: Partial<Env>) =>
			fetchWith(vars, `/-/user/org.couchdb.user:${name}`, {
				method: "PUT",
				body: JSON.stringify({ name, password: "a-long-password", email: `${name}@example.com`, type: "user" }),
			});
		// Without signup, a new name is refused like a wrong password (#9 item 7).
		expect((await adduser({})).status).toBe(401);
		const created = await adduser({ ALLOW_SIGNUP: "true" });
		expect(created.status).toBe(201);
		const { token } = (await created.json()) as { token: string };
		const whoami = await fetchWith({}, "/-/whoami", { headers: { authorization: `Bearer ${token}` } });
		expect(await whoami.json()).toEqual({ username: name });
		// The account now exists: logging in again needs its password, signup or not.
		const again = await fetchWith({ ALLOW_SIGNUP: "true" }, `/-/user/org.couchdb.user:${name}`, {
			method: "PUT",
			body: JSON.stringify({ name, password: "wrong-password" }),
		});
		expect(again.status).toBe(401);
	});
});

describe("secrets", () => {
	it("reports a missing secret at /health and refuses every other route with 503, never a 500 mid-write", async () => {
		const vars = { URL_SIGNING_SECRET: "" } as Partial<Env>;
		const health = await fetchWith(vars, "/health");
		expect(health.status).toBe(503);
		expect(await health.json()).toEqual({ status: "misconfigured", missingSecrets: ["URL_SIGNING_SECRET"] });
		const name = uniqueName();
		const token = await publisherFor(name);
		const write = await fetchWith(vars, `/packages/${name}/channels/stable`, {
			method: "POST",
			headers: { authorization: `Bearer ${token}` },
			body: JSON.stringify({ version: "1.0.0" }),
		});
		expect(write.status).toBe(503);
		expect(await write.json()).toMatchObject({ error: "the registry is not configured: set URL_SIGNING_SECRET" });
		expect((await fetchWith({}, "/health")).status).toBe(200);
	});
});

describe("packument contents", () => {
	it("carries the README of the latest version from its tarball", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token, { files: { "README.md": "# one\n" } });
		await publish(name, "1.1.0", token, { files: { "readme.markdown": "# two\n" } });
		const doc = await readPackument(name, token);
		expect(doc.readme).toBe("# two\n");
		expect(doc.readmeFilename).toBe("readme.markdown");
		expect(doc.versions["1.1.0"]?.readme).toBeUndefined();
	});
});
