import { describe, expect, it } from "vitest";
import { BUCKETS, bucketOf, inRollout } from "../schema/rollouts";
import { ADMIN, call, createToken, publish, publisherFor, uniqueName } from "./helpers/registry";

// Staged rollouts on channels (#13): a share of a channel's clients get another version, drawn
// per client from a stable key and the rollout's own salt; complete and revert end it.

const json = (body: unknown) => JSON.stringify(body);
const keys = Array.from({ length: BUCKETS }, (_, i) => `client-${i}`);

describe("cohorts", () => {
	it.each([1, 10, 25, 50, 90])("puts %d%% of 10,000 keys in the rollout, within 1.5 points", async (percent) => {
		const inside = await Promise.all(keys.map((key) => inRollout("salt-a", percent, key)));
		const share = (inside.filter(Boolean).length / keys.length) * 100;
		expect(Math.abs(share - percent)).toBeLessThanOrEqual(1.5);
	});

	it("keeps every client's answer while the percentage only grows, and draws anew for a new salt", async () => {
		const at10 = await Promise.all(keys.map((key) => inRollout("salt-a", 10, key)));
		const at30 = await Promise.all(keys.map((key) => inRollout("salt-a", 30, key)));
		expect(at10.every((inside, i) => !inside || at30[i])).toBe(true);
		const again = await Promise.all(keys.map((key) => bucketOf("salt-a", key)));
		expect(again).toEqual(await Promise.all(keys.map((key) => bucketOf("salt-a", key))));
		const other = await Promise.all(keys.map((key) => inRollout("salt-b", 10, key)));
		const both = at10.filter((inside, i) => inside && other[i]).length;
		// Two independent 10% cohorts share about 1% of the keys, not 10%.
		expect(both).toBeLessThan(keys.length * 0.03);
	});

	it("keeps a client without a key on the control", async () => {
		expect(await inRollout("salt-a", 100, null)).toBe(false);
		expect(await inRollout("salt-a", 100, "")).toBe(false);
		expect(await inRollout("salt-a", 100, "someone")).toBe(true);
		expect(await inRollout("salt-a", 0, "someone")).toBe(false);
	});
});

async function widget(access: "public" | "restricted" = "public") {
	const scope = `@${uniqueName("ro").replaceAll("-", "")}`;
	const name = `${scope}/widget`;
	const token = await publisherFor(scope);
	for (const version of ["1.0.0", "2.0.0"]) expect((await publish(name, version, token, { access })).status).toBe(201);
	await call(`/packages/${name}/channels/stable`, { method: "POST", token, body: json({ version: "1.0.0" }) });
	return { name, token };
}

async function lookup(name: string, clientKey: string | null, token: string | null = null) {
	const res = await call(`/packages/${name}/channels/stable`, {
		token,
		headers: clientKey === null ? {} : { "x-client-key": clientKey },
	});
	return { status: res.status, cache: res.headers.get("x-registry-cache"), body: (await res.json()) as Lookup };
}

type Lookup = { version: string; rollout?: { version: string; percent: number; cohort: string } };

describe("a rollout on a channel", () => {
	it("gives each client one version by its key, stable across loads and cache hits", async () => {
		const { name, token } = await widget();
		const started = await call(`/packages/${name}/channels/stable/rollout`, {
			method: "POST",
			token,
			body: json({ version: "2.0.0", percent: 50 }),
		});
		expect(started.status).toBe(201);
		const seen = new Map<string, string>();
		for (let i = 0; i < 40; i++) seen.set(`k${i}`, (await lookup(name, `k${i}`)).body.version);
		const versions = new Set(seen.values());
		expect(versions).toEqual(new Set(["1.0.0", "2.0.0"]));
		for (const [key, version] of seen) {
			const again = await lookup(name, key);
			expect(again.body.version).toBe(version);
			expect(again.cache).toBe("hit");
			expect(again.body.rollout).toMatchObject({ version: "2.0.0", percent: 50 });
		}
		// No key, no token: the control.
		expect((await lookup(name, null)).body.version).toBe("1.0.0");
	});

	it("falls back on the caller's token id as the client key", async () => {
		const { name, token } = await widget();
		await call(`/packages/${name}/channels/stable/rollout`, {
			method: "POST",
			token,
			body: json({ version: "2.0.0", percent: 100 }),
		});
		const customer = await createToken([{ package: name, permissions: ["read"] }], "customer");
		expect((await lookup(name, null, customer.token)).body.version).toBe("2.0.0");
	});

	it("widens, completes and reverts, each recorded once in the history and the audit trail", async () => {
		const { name, token } = await widget();
		const rollout = (method: string, path = "", body?: unknown) =>
			call(`/packages/${name}/channels/stable/rollout${path}`, {
				method,
				token,
				...(body === undefined ? {} : { body: json(body) }),
			});
		expect((await rollout("POST", "", { version: "2.0.0", percent: 5 })).status).toBe(201);
		expect((await rollout("POST", "", { version: "2.0.0", percent: 5 })).status).toBe(409);
		// The channel does not move while a rollout is under way.
		const moved = await call(`/packages/${name}/channels/stable`, {
			method: "POST",
			token,
			body: json({ version: "2.0.0" }),
		});
		expect(moved.status).toBe(409);
		expect((await rollout("PATCH", "", { percent: 40 })).status).toBe(200);
		expect((await rollout("PATCH", "", { percent: 140 })).status).toBe(400);
		expect((await rollout("POST", "/revert")).status).toBe(200);
		expect((await lookup(name, "anyone")).body).toMatchObject({ version: "1.0.0" });
		expect((await lookup(name, "anyone")).body.rollout).toBeUndefined();
		expect((await rollout("POST", "/complete")).status).toBe(404);

		expect((await rollout("POST", "", { version: "2.0.0", percent: 20 })).status).toBe(201);
		const completed = await rollout("POST", "/complete");
		expect(((await completed.json()) as { version: string }).version).toBe("2.0.0");
		expect((await lookup(name, null)).body.version).toBe("2.0.0");

		const history = (await (await call(`/packages/${name}/channels/stable/history`, { token })).json()) as {
			history: { event: string; version: string; current: boolean; detail: unknown }[];
		};
		expect(history.history.map((h) => [h.event, h.version, h.current])).toEqual([
			["rollout.complete", "2.0.0", true],
			["rollout.start", "2.0.0", false],
			["rollout.revert", "2.0.0", false],
			["rollout.change", "2.0.0", false],
			["rollout.start", "2.0.0", false],
			["move", "1.0.0", false],
		]);
		expect(history.history[3]?.detail).toEqual({ from: 5, percent: 40 });
		// Rollback walks the pointer's own chain: back to 1.0.0, past none of the rollout's events.
		const rolled = await call(`/packages/${name}/channels/stable/rollback`, { method: "POST", token });
		expect(((await rolled.json()) as { version: string }).version).toBe("1.0.0");

		const audit = await call(`/packages/${name}/audit`, { token: ADMIN });
		const actions = ((await audit.json()) as { entries: { action: string }[] }).entries.map((e) => e.action);
		for (const action of ["rollout.start", "rollout.change", "rollout.revert", "rollout.complete"]) {
			expect(actions).toContain(action);
		}
	});

	it("keeps a restricted package's access rules", async () => {
		const { name, token } = await widget("restricted");
		await call(`/packages/${name}/channels/stable/rollout`, {
			method: "POST",
			token,
			body: json({ version: "2.0.0", percent: 100 }),
		});
		expect((await lookup(name, "k1")).status).toBe(404);
		const customer = await createToken([{ package: name, permissions: ["read"] }], "customer");
		const granted = await lookup(name, "k1", customer.token);
		expect([granted.status, granted.body.version]).toEqual([200, "2.0.0"]);
		const reader = await createToken([{ package: name, permissions: ["read"] }], "customer");
		const refused = await call(`/packages/${name}/channels/stable/rollout/revert`, {
			method: "POST",
			token: reader.token,
		});
		expect(refused.status).toBe(403);
	});

	it("tells shared caches not to keep a lookup that depends on the client", async () => {
		const { name, token } = await widget();
		const before = await call(`/packages/${name}/channels/stable`);
		expect(before.headers.get("cache-control")).toBe("public, no-cache");
		await call(`/packages/${name}/channels/stable/rollout`, {
			method: "POST",
			token,
			body: json({ version: "2.0.0", percent: 50 }),
		});
		const during = await call(`/packages/${name}/channels/stable`, { headers: { "x-client-key": "k" } });
		expect(during.headers.get("cache-control")).toBe("private, no-cache");
		expect(during.headers.get("vary")).toMatch(/x-client-key/);
	});
});
