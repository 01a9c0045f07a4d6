import { describe, expect, it } from "vitest";
import { ADMIN, ALL, call, createToken, publish, readPackument, uniqueName, userWithToken } from "./helpers/registry";
import { gzipTar } from "./helpers/tarball";

// The audit trail: every mutation recorded with time, actor (user, token prefix), IP, action and
// target; package events in the package's object, registry events in the admin log.

type Entry = {
	at: string;
	action: string;
	actor: string;
	prefix: string | null;
	ip: string | null;
	target: string | null;
	detail: Record<string, unknown> | null;
};
const json = (body: unknown) => JSON.stringify(body);
const IP = { "cf-connecting-ip": "203.0.113.7" };

async function packageAudit(name: string, query = ""): Promise<Entry[]> {
	const res = await call(`/packages/${name}/audit${query}`, { token: ADMIN });
	expect(res.status).toBe(200);
	return ((await res.json()) as { entries: Entry[] }).entries;
}

describe("package audit trail", () => {
	it("records every kind of change to a package, newest first, with actor and address", async () => {
		const name = uniqueName("aud");
		const owner = await createToken([{ package: name, permissions: ALL }], "developer", "auditor");
		const t = owner.token;
		const w = (path: string, method: string, body?: BodyInit) => call(path, { method, token: t, headers: IP, body });
		await publish(name, "1.0.0", t);
		await publish(name, "1.1.0", t, { tag: "next" });
		await w(`/packages/${name}/upload?version=2.0.0`, "POST", await gzipTar({ "index.js": "1" }));
		await w(`/-/package/${name}/dist-tags/beta`, "PUT", json("1.0.0"));
		await w(`/packages/${name}/channels/stable`, "POST", json({ version: "1.0.0" }));
		await w(`/packages/${name}/channels/stable`, "POST", json({ version: "1.1.0" }));
		await w(`/packages/${name}/channels/stable/rollback`, "POST");
		await w(`/packages/${name}/channels/gold/promote`, "POST", json({ from: "stable" }));
		await w(`/packages/${name}/channels/gold`, "DELETE");
		const doc = await readPackument(name, t);
		const v = doc.versions["1.0.0"];
		if (v) v.deprecated = "old";
		await w(`/${name}`, "PUT", json(doc));
		await w(`/packages/${name}/versions/2.0.0`, "DELETE");
		await w(`/-/package/${name}/access`, "POST", json({ access: "public" }));

		const entries = await packageAudit(name);
		expect(entries.map((e) => [e.action, e.target])).toEqual([
			["access", null],
			["unpublish", "2.0.0"],
			["deprecate", "1.0.0"],
			["channel.remove", "gold"],
			["channel.promote", "gold"],
			["channel.rollback", "stable"],
			["channel.move", "stable"],
			["channel.move", "stable"],
			["channel.move", "beta"],
			["upload", "2.0.0"],
			["publish", "1.1.0"],
			["publish", "1.0.0"],
		]);
		for (const entry of entries) {
			expect(entry.actor).toBe("auditor");
			expect(entry.prefix).toBe(owner.prefix);
			expect(entry.at).toMatch(/^\d{4}-\d\d-\d\dT/);
		}
		expect(entries[0]?.ip).toBe("203.0.113.7");
		expect(entries.at(-1)?.detail).toMatchObject({ tags: ["latest"] });
		expect(entries.find((e) => e.action === "deprecate")?.detail).toEqual({ deprecations: { "1.0.0": "old" } });

		// filters
		expect((await packageAudit(name, "?actor=nobody")).length).toBe(0);
		expect((await packageAudit(name, `?actor=${owner.prefix}`)).length).toBe(entries.length);
		expect((await packageAudit(name, "?since=2999-01-01")).length).toBe(0);
		expect((await call(`/packages/${name}/audit?since=yesterday-ish`, { token: ADMIN })).status).toBe(400);
		const viaAdmin = await call(`/-/admin/audit?package=${name}&limit=2`, { token: ADMIN });
		expect(((await viaAdmin.json()) as { entries: Entry[] }).entries.map((e) => e.action)).toEqual([
			"access",
			"unpublish",
		]);
	});

	it("records npm unpublish and owner changes", async () => {
		const name = uniqueName("aud");
		const owner = await userWithToken([{ package: name, permissions: ALL }]);
		const helper = await userWithToken([]);
		await publish(name, "1.0.0", owner.token);
		const { _rev } = await readPackument(name, owner.token);
		const owners = await call(`/${name}/-rev/${_rev}`, {
			method: "PUT",
			token: owner.token,
			body: json({ _id: name, _rev, maintainers: [{ name: owner.name }, { name: helper.name }] }),
		});
		expect(owners.status).toBe(200);
		const current = await readPackument(name, owner.token);
		await call(`/${name}/-rev/${current._rev}`, { method: "DELETE", token: owner.token });
		const entries = await packageAudit(name);
		expect(entries.map((e) => e.action)).toEqual(["unpublish", "owner.change", "publish"]);
		expect(entries[1]?.detail).toEqual({ added: [helper.name], removed: [] });
		expect(entries[0]).toMatchObject({ target: "*", actor: owner.name, detail: { versions: ["1.0.0"] } });
	});
});

describe("registry audit log", () => {
	it("records token, user, customer and policy changes, and failed authentications on writes", async () => {
		const since = new Date().toISOString();
		const token = await createToken([{ scope: "@audited", permissions: ALL }], "developer", "audited-bot");
		await call(`/-/admin/tokens/${token.id}/grants`, {
			method: "POST",
			token: ADMIN,
			body: json({ scope: "@more", permissions: ["read"] }),
		});
		await call(`/-/admin/tokens/${token.id}/grants`, {
			method: "DELETE",
			token: ADMIN,
			body: json({ scope: "@more" }),
		});
		const rotated = (await (
			await call(`/-/admin/tokens/${token.id}/rotate`, { method: "POST", token: ADMIN })
		).json()) as {
			prefix: string;
		};
		await call(`/-/admin/tokens/${token.id}`, { method: "DELETE", token: ADMIN });
		const user = uniqueName("u");
		await call("/-/admin/users", {
			method: "POST",
			token: ADMIN,
			body: json({ name: user, password: "long-password" }),
		});
		await call(`/-/admin/users/${user}/grants`, {
			method: "POST",
			token: ADMIN,
			body: json({ scope: "@x", permissions: ["read"] }),
		});
		await call(`/-/admin/users/${user}/totp`, { method: "POST", token: ADMIN });
		const customer = uniqueName("c");
		await call("/-/admin/customers", { method: "POST", token: ADMIN, body: json({ name: customer }) });
		await call(`/-/admin/customers/${customer}`, { method: "PATCH", token: ADMIN, body: json({ active: false }) });
		await call("/-/admin/scopes/@audited", { method: "PUT", token: ADMIN, body: json({ requireTwoFactor: false }) });
		const failed = await call(`/${uniqueName()}`, {
			method: "PUT",
			token: `dev_${"f".repeat(64)}`,
			headers: IP,
			body: "{}",
		});
		expect(failed.status).toBe(401);
		await call(`/-/user/org.couchdb.user:${user}`, {
			method: "PUT",
			body: json({ name: user, password: "wrong-password" }),
		});

		const res = await call(`/-/admin/audit?since=${encodeURIComponent(since)}`, { token: ADMIN });
		const entries = ((await res.json()) as { entries: Entry[] }).entries.reverse();
		const actions = entries.map((e) => `${e.action} ${e.target}`);
		for (const expected of [
			`token.create ${token.prefix}`,
			`token.grant ${token.prefix}`,
			`token.ungrant ${token.prefix}`,
			`token.rotate ${rotated.prefix}`,
			`token.revoke ${rotated.prefix}`,
			`user.create ${user}`,
			`user.grant ${user}`,
			`user.totp.enable ${user}`,
			`customer.create ${customer}`,
			`customer.suspend ${customer}`,
			"scope.policy @audited",
			`login.failed ${user}`,
		]) {
			expect(actions).toContain(expected);
		}
		const failure = entries.find((e) => e.action === "auth.failed" && e.ip === "203.0.113.7");
		expect(failure).toMatchObject({ prefix: "dev_ffffffff", detail: { method: "PUT" } });
		expect(entries.filter((e) => e.action.startsWith("token.")).every((e) => e.actor === "admin")).toBe(true);
		const byActor = await call(`/-/admin/audit?actor=admin&since=${encodeURIComponent(since)}`, { token: ADMIN });
		expect(((await byActor.json()) as { entries: Entry[] }).entries.length).toBeGreaterThanOrEqual(11);
		expect((await call("/-/admin/audit", { token: token.token })).status).toBe(401);
		expect((await call("/-/admin/audit", { token: (await createToken([])).token })).status).toBe(403);
	});
});
