import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, npmProject, ok, packageJson, RegistryServer } from "./harness";

// Operations (#21) against `wrangler dev`: package hooks reaching a receiver on this machine (a
// Node HTTP server on a free loopback port), signed, and a delivery made while it was down arriving
// once it is back; the registry-wide figures after traffic and refused publishes, kept across a
// restart; the publish-failure alert reaching the alert webhook.

type Received = { path: string; signature: string | undefined; body: string };

let server: RegistryServer;
let receiverPort: number;
let receiver: Server | null = null;
const received: Received[] = [];
const SECRET = "e2e-hook-secret";
const ALERT_SECRET = "e2e-alert-secret";

function listen(): Promise<void> {
	receiver = createServer((req, res) => {
		let body = "";
		req.on("data", (c) => {
			body += c;
		});
		req.on("end", () => {
			const signature = req.headers["x-npm-signature"] ?? req.headers["x-registry-signature"];
			received.push({ path: req.url ?? "", signature: typeof signature === "string" ? signature : undefined, body });
			res.writeHead(200).end("ok");
		});
	});
	return new Promise((resolve) => receiver?.listen(receiverPort, "127.0.0.1", resolve));
}

function close(): Promise<void> {
	return new Promise((resolve) => {
		if (!receiver) return resolve();
		receiver.closeAllConnections();
		receiver.close(() => resolve());
		receiver = null;
	});
}

beforeAll(async () => {
	receiverPort = await freePort();
	await listen();
	server = await RegistryServer.start({
		// What `npm start` sets on loopback: hooks may then post to http://127.0.0.1.
		LOCAL_CLIENT_ADDRESS: "127.0.0.1",
		HOOK_RETRY_SECONDS: "1",
		METRICS_FLUSH_SECONDS: "1",
		ALERT_INTERVAL_SECONDS: "1",
		ALERT_WEBHOOK_URL: `http://127.0.0.1:${receiverPort}/alert`,
		ALERT_WEBHOOK_SECRET: ALERT_SECRET,
	});
});

afterAll(async () => {
	await server?.stop();
	await close();
});

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
	const deadline = Date.now() + ms;
	while (Date.now() < deadline) {
		const value = await probe();
		if (value !== undefined) return value;
		await new Promise((r) => setTimeout(r, 200));
	}
	throw new Error(`timed out waiting for ${what}`);
}

function events(name: string): { event: string; version: string | null; change: Record<string, unknown> }[] {
	return received
		.filter((r) => r.path === "/hook")
		.map((r) => JSON.parse(r.body))
		.filter((b) => b.name === name);
}

function packageDir(token: string, name: string, version: string): string {
	return npmProject(server, token, {
		"package.json": packageJson({ name, version, main: "index.js", license: "MIT" }),
		"index.js": "module.exports = 1;\n",
	});
}

async function api(token: string, method: string, path: string, body?: unknown) {
	const res = await fetch(`${server.url}${path}`, {
		method,
		headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
		...(body === undefined ? {} : { body: JSON.stringify(body) }),
	});
	return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("operations (#21)", () => {
	it("sends the publish and dist-tag hooks to a local receiver, signed with the hook's secret", async () => {
		const token = await server.developerToken(["@hooked"]);
		const hook = await api(token, "POST", "/-/npm/v1/hooks/hook", {
			type: "scope",
			name: "@hooked",
			endpoint: `http://127.0.0.1:${receiverPort}/hook`,
			secret: SECRET,
		});
		expect(hook.status).toBe(201);
		const dir = packageDir(token, "@hooked/pkg", "1.0.0");
		await ok("npm", ["publish"], { cwd: dir });
		await ok("npm", ["dist-tag", "add", "@hooked/pkg@1.0.0", "beta"], { cwd: dir });

		// The dist-tag's channel event may be delivered after the dist-tag event: waited for too.
		const wanted = ["package:publish", "package:dist-tag", "package:channel"];
		const seen = await until("the publish, dist-tag and channel hooks", () => {
			const names = events("@hooked/pkg").map((e) => e.event);
			return wanted.every((name) => names.includes(name)) ? names : undefined;
		});
		expect(seen).toEqual(expect.arrayContaining(wanted));
		for (const delivery of received.filter((r) => r.path === "/hook")) {
			const expected = createHmac("sha256", SECRET).update(delivery.body).digest("hex");
			expect(delivery.signature).toBe(`sha256=${expected}`);
		}
		const publish = events("@hooked/pkg").find((e) => e.event === "package:publish");
		expect(publish).toMatchObject({ version: "1.0.0", change: { version: "1.0.0" } });
		const listed = await api(token, "GET", "/-/npm/v1/hooks?package=@hooked");
		expect(listed.body).toMatchObject({ total: 1, objects: [{ delivered: true, response_code: 200, failures: 0 }] });
	});

	it("delivers an event made while the receiver was down once it is back", async () => {
		// A token of the hook's owner (tokens without a user own hooks by their name).
		const owner = await server.developerToken(["@hooked"], "e2e");
		await close();
		await ok("npm", ["publish"], { cwd: packageDir(owner, "@hooked/later", "1.0.0") });
		await until("a failed delivery", async () => {
			const listed = await api(owner, "GET", "/-/npm/v1/hooks");
			const [first] = listed.body.objects as { failures: number }[];
			return first && first.failures > 0 ? first : undefined;
		});
		expect(events("@hooked/later")).toEqual([]);
		await listen();
		const arrived = await until("the delayed delivery", () => events("@hooked/later")[0]);
		expect(arrived).toMatchObject({ event: "package:publish", version: "1.0.0" });
	});

	it("shows latency percentiles and refused publishes in the metrics, alerts on publish failures, and keeps the figures across a restart", async () => {
		const token = await server.developerToken(["@figures"]);
		const dir = packageDir(token, "@figures/pkg", "1.0.0");
		await ok("npm", ["publish"], { cwd: dir });
		// npm itself stops a republish of a version it sees (it never reaches the registry): these are
		// publishes the registry refuses, a version already there, as an older client would send them.
		const document = {
			name: "@figures/pkg",
			versions: { "1.0.0": { name: "@figures/pkg", version: "1.0.0", dist: { shasum: "0".repeat(40) } } },
			"dist-tags": { latest: "1.0.0" },
			_attachments: { "pkg-1.0.0.tgz": { content_type: "application/octet-stream", data: "AAAA", length: 3 } },
		};
		for (let i = 0; i < 3; i++) {
			const again = await api(token, "PUT", "/@figures%2fpkg", document);
			expect(again.status).toBeGreaterThanOrEqual(400);
		}
		await ok("npm", ["view", "@figures/pkg", "--json"], { cwd: dir });

		type Window = {
			all: { requests: number; p95: number | null };
			routes: Record<string, { requests: number; refused: Record<string, number> }>;
		};
		const figures = async () =>
			(await server.admin<{ registry: { windows: Record<string, Window> } }>("GET", "/-/admin/metrics")).registry
				.windows;
		const day = await until("the refused publishes in the figures", async () => {
			const w = (await figures())["1d"];
			const refused = Object.values(w?.routes["PUT /{name}"]?.refused ?? {}).reduce((a, b) => a + b, 0);
			return refused >= 3 ? w : undefined;
		});
		expect(day.all.p95).not.toBeNull();
		expect(day.routes["GET /{name}"]?.requests).toBeGreaterThan(0);

		const dashboard = await fetch(`${server.url}/-/dashboard/operations`, {
			headers: { authorization: `Bearer ${server.adminToken}` },
		});
		const page = await dashboard.text();
		expect(dashboard.status).toBe(200);
		expect(page).toContain("p50 / p95 / p99");
		expect(page).toContain("PUT /{name}");

		const alert = await until("the publish-failure alert", () =>
			received.filter((r) => r.path === "/alert").find((r) => JSON.parse(r.body).alert === "publishFailures"),
		);
		expect(JSON.parse(alert.body)).toMatchObject({ status: "firing" });
		expect(JSON.parse(alert.body).text).toContain("publishes failed");
		expect(alert.signature).toBe(`sha256=${createHmac("sha256", ALERT_SECRET).update(alert.body).digest("hex")}`);

		const before = day.routes["PUT /{name}"]?.requests ?? 0;
		await server.restart();
		const after = (await figures())["1d"];
		expect(after?.routes["PUT /{name}"]?.requests).toBeGreaterThanOrEqual(before);
	});
});
