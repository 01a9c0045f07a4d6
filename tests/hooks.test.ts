import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { HookOutbox, hookEvents, type Send } from "../durable-objects/package/hook-outbox";
import type { HookView } from "../schema/hooks/contract";
import { packageStub } from "./helpers/package-object";
import { ADMIN, call, createToken, publish, publisherFor, uniqueName, userWithToken } from "./helpers/registry";

// Package hooks (#21, hooks): npm's hook API, events written with their change, delivered from the
// package object's alarm, signed, retried. The object's own alarm posts to the hook's endpoint with
// fetch; these tests give their hooks an endpoint nothing listens on (the alarm's attempt fails at
// once), then deliver through the same outbox rows with a recording transport of their own.

/**
 * An https endpoint where nothing listens: every automatic delivery fails at once. The registry
 * project's network (vitest.config.ts, unreachableNetwork) answers it as a gateway would, 502,
 * rather than a real refused connection, which workerd logs as an uncaught exception (#23.6).
 */
const DEAD = "https://dead-hook.test/hook";
const MINUTE = 60_000;

type Received = { url: string; headers: Headers; body: string };

function recorder(status = 200): { send: Send; received: Received[] } {
	const received: Received[] = [];
	const send: Send = async (url, init) => {
		received.push({ url, headers: new Headers(init.headers), body: String(init.body) });
		return new Response(null, { status });
	};
	return { send, received };
}

/** Runs one delivery of the package's outbox at `now`, through `send`. */
function deliver(name: string, send: Send, now: number) {
	return runInDurableObject(packageStub(name), (_instance, state) =>
		new HookOutbox(state.storage.sql, env, send).deliver(
			() => ({ name, scope: name.startsWith("@") ? (name.split("/")[0] ?? null) : null, maintainers: [] }),
			now,
			MINUTE,
		),
	);
}

async function addHook(token: string, body: Record<string, string>) {
	return call("/-/npm/v1/hooks/hook", { method: "POST", token, body: JSON.stringify({ secret: "s3cret", ...body }) });
}

async function hook(id: string, token: string): Promise<HookView> {
	return (await call(`/-/npm/v1/hooks/hook/${id}`, { token })).json();
}

/** Polls until the hook shows `failures` failed attempts (the object's own alarm made them). */
async function failuresReach(id: string, token: string, failures: number): Promise<HookView> {
	for (let i = 0; i < 200; i++) {
		const seen = await hook(id, token);
		if (seen.failures >= failures) return seen;
		await scheduler.wait(25);
	}
	throw new Error(`hook ${id} never reached ${failures} failures`);
}

async function hmacHex(secret: string, body: string): Promise<string> {
	const key = await crypto.subtle.importKey(
		"raw",
		new TextEncoder().encode(secret),
		{ name: "HMAC", hash: "SHA-256" },
		false,
		["sign"],
	);
	const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
	return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("package hooks (#21)", () => {
	it("delivers a publish as npm's hooks sent it, signed with the hook's secret", async () => {
		const name = uniqueName("hooked");
		const token = await publisherFor(name);
		const added = await addHook(token, { type: "package", name, endpoint: DEAD });
		expect(added.status).toBe(201);
		const created = (await added.json()) as HookView;
		expect(created).toMatchObject({ type: "package", name, endpoint: DEAD, failures: 0, delivered: false });
		expect(created).not.toHaveProperty("secret");
		const stored = await runInDurableObject(env.HOOKS.get(env.HOOKS.idFromName("hooks")), (_instance, state) =>
			state.storage.sql.exec<{ secret: string }>(`SELECT secret FROM hooks WHERE id = ?`, created.id).one(),
		);
		expect(stored.secret).toMatch(/^sealed:v1:/);

		await publish(name, "1.0.0", token);
		await failuresReach(created.id, token, 1);
		const { send, received } = recorder();
		await deliver(name, send, Date.now() + 2 * MINUTE);

		expect(received).toHaveLength(1);
		const [delivery] = received;
		if (!delivery) throw new Error("nothing delivered");
		expect(delivery.url).toBe(DEAD);
		expect(delivery.headers.get("x-npm-signature")).toBe(`sha256=${await hmacHex("s3cret", delivery.body)}`);
		const body = JSON.parse(delivery.body) as Record<string, unknown>;
		expect(body).toMatchObject({
			event: "package:publish",
			name,
			type: "package",
			version: "1.0.0",
			hookOwner: { username: "test" },
			change: { version: "1.0.0" },
			payload: { name, "dist-tags": { latest: "1.0.0" } },
		});
		expect(typeof body.time).toBe("number");
		const after = await hook(created.id, token);
		expect(after).toMatchObject({ delivered: true, response_code: 200, failures: 0 });
	});

	it("keeps undelivered events through an object restart, and retries a failing endpoint with backoff", async () => {
		const scope = `@${uniqueName("hs")}`;
		const name = `${scope}/pkg`;
		const token = await publisherFor(scope);
		const created = (await (await addHook(token, { type: "scope", name: scope, endpoint: DEAD })).json()) as HookView;
		await publish(name, "1.0.0", token);
		const failed = await failuresReach(created.id, token, 1);
		expect(failed).toMatchObject({ response_code: 502, delivered: false });

		await evictDurableObject(packageStub(name));
		const start = Date.now();
		// Not due yet: the first retry waits HOOK_RETRY_SECONDS.
		const early = recorder();
		await deliver(name, early.send, start + 1000);
		expect(early.received).toHaveLength(0);

		const failing = recorder(500);
		const next = await deliver(name, failing.send, start + 2 * MINUTE);
		expect(failing.received).toHaveLength(1);
		expect(await hook(created.id, token)).toMatchObject({ failures: 2, response_code: 500, delivered: false });
		// The second retry waits twice as long.
		expect(next).toBe(start + 2 * MINUTE + 2 * MINUTE);

		const ok = recorder();
		await deliver(name, ok.send, start + 5 * MINUTE);
		expect(ok.received.map((r) => (JSON.parse(r.body) as { event: string }).event)).toEqual(["package:publish"]);
		expect(await hook(created.id, token)).toMatchObject({ failures: 0, response_code: 200, delivered: true });
		// Delivered once: nothing is left to send.
		const again = recorder();
		expect(await deliver(name, again.send, start + 60 * MINUTE)).toBeNull();
		expect(again.received).toHaveLength(0);
	});

	it("records an attempt the endpoint never answered as a failure without a status", async () => {
		const name = uniqueName("hook-unanswered");
		const token = await publisherFor(name);
		const created = (await (await addHook(token, { type: "package", name, endpoint: DEAD })).json()) as HookView;
		await publish(name, "1.0.0", token);
		await failuresReach(created.id, token, 1);
		// What fetch does when the connection is refused or lost: it rejects.
		const refused: Send = async () => {
			throw new TypeError("Network connection lost.");
		};
		await deliver(name, refused, Date.now() + 2 * MINUTE);
		expect(await hook(created.id, token)).toMatchObject({ failures: 2, response_code: null, delivered: false });
	});

	it("refuses a hook to a caller who may not publish, and shows a hook only to its owner", async () => {
		const name = uniqueName("guarded");
		const publisher = await publisherFor(name);
		const reader = (await createToken([{ package: name, permissions: ["read", "upload"] }])).token;
		const cases: [string | null, Record<string, string>, number][] = [
			[null, { type: "package", name, endpoint: DEAD }, 401],
			[reader, { type: "package", name, endpoint: DEAD }, 403],
			[reader, { type: "scope", name: "@elsewhere", endpoint: DEAD }, 403],
			[publisher, { type: "scope", name: "@elsewhere", endpoint: DEAD }, 403],
			[publisher, { type: "owner", name: "someone-else", endpoint: DEAD }, 403],
			[publisher, { type: "package", name, endpoint: "http://127.0.0.1:9/hook" }, 400],
			[publisher, { type: "package", name, endpoint: "not a url" }, 400],
			[publisher, { type: "nope", name, endpoint: DEAD }, 400],
		];
		for (const [token, body, status] of cases) {
			const res = await call("/-/npm/v1/hooks/hook", {
				method: "POST",
				token,
				body: JSON.stringify({ secret: "x", ...body }),
			});
			expect(res.status, JSON.stringify(body)).toBe(status);
			expect(await res.json()).toHaveProperty("error");
		}

		const created = (await (await addHook(publisher, { type: "package", name, endpoint: DEAD })).json()) as HookView;
		const path = `/-/npm/v1/hooks/hook/${created.id}`;
		const other = (await userWithToken([])).token;
		expect((await call(path, { token: other })).status).toBe(404);
		expect((await call(path, { method: "DELETE", token: other })).status).toBe(404);
		expect((await call(path, { token: ADMIN })).status).toBe(200);

		const listed = (await (await call(`/-/npm/v1/hooks?package=${name}`, { token: publisher })).json()) as {
			objects: HookView[];
		};
		expect(listed.objects.map((h) => h.id)).toEqual([created.id]);
		expect(((await (await call("/-/npm/v1/hooks", { token: other })).json()) as { total: number }).total).toBe(0);

		const updated = await call(path, {
			method: "PUT",
			token: publisher,
			body: JSON.stringify({ endpoint: "https://hooks.example/new", secret: "n" }),
		});
		expect(((await updated.json()) as HookView).endpoint).toBe("https://hooks.example/new");
		expect((await call(path, { method: "DELETE", token: publisher })).status).toBe(200);
		expect((await call(path, { token: publisher })).status).toBe(404);
	});

	it("lets a user hook its own packages as their owner", async () => {
		const user = await userWithToken([]);
		const res = await addHook(user.token, { type: "owner", name: `~${user.name}`, endpoint: DEAD });
		expect(res.status).toBe(201);
		expect(await res.json()).toMatchObject({ type: "owner", name: user.name, username: user.name });
	});

	it("names each change's events as npm's hooks did, with package:channel for every channel change", () => {
		const context = { name: "p", distTags: { latest: "1.0.0" }, modified: "2026-01-01T00:00:00.000Z", now: 1 };
		const events = (action: string, target: string | null, detail: Record<string, unknown> | null) =>
			hookEvents({ action, target, detail }, context).map((e) => [e.event, e.version, e.change]);
		expect(events("publish", "1.0.0", { tags: ["latest"] })).toEqual([
			["package:publish", "1.0.0", { version: "1.0.0", "dist-tags": ["latest"] }],
		]);
		expect(events("unpublish", "1.0.0", { force: false })).toEqual([
			["package:unpublish", "1.0.0", { versions: ["1.0.0"], all: false }],
		]);
		expect(events("deprecate", "1.0.0,2.0.0", { deprecations: { "1.0.0": "old", "2.0.0": null } })).toEqual([
			["package:deprecate", "1.0.0", { version: "1.0.0", deprecated: "old" }],
			["package:undeprecate", "2.0.0", { version: "2.0.0", deprecated: null }],
		]);
		expect(events("channel.move", "beta", { version: "1.0.0" })).toEqual([
			["package:dist-tag", "1.0.0", { "dist-tag": "beta", version: "1.0.0" }],
			["package:channel", "1.0.0", { channel: "beta", action: "channel.move", version: "1.0.0" }],
		]);
		expect(events("channel.remove", "beta", null)).toEqual([
			["package:dist-tag-rm", null, { "dist-tag": "beta" }],
			["package:channel", null, { channel: "beta", action: "channel.remove" }],
		]);
		expect(events("rollout.change", "stable", { version: "2.0.0", from: 10, percent: 50 })[0]?.[0]).toBe(
			"package:channel",
		);
		expect(events("access", null, { access: "public" })).toEqual([]);
	});
});
