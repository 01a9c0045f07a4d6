import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Alerts, conditions } from "../durable-objects/metrics/alerts";
import { Figures } from "../durable-objects/metrics/figures";
import { Downloads } from "../durable-objects/package/downloads";
import type { Send } from "../durable-objects/package/hook-outbox";
import { downloadSpike } from "../durable-objects/package/metrics-report";
import { metricsObject } from "../durable-objects/stubs";
import { config } from "../schema/config";
import {
	emptyRouteCounts,
	HISTOGRAM_BUCKETS,
	latencyBucket,
	type MetricsBatch,
	type RouteCounts,
} from "../schema/metrics/contract";
import { addressRange, metricsRouteName, sendMetrics } from "../worker/metrics/isolate";
import { packageStub } from "./helpers/package-object";
import { ADMIN, call, createToken, publish, publishBody, publisherFor, uniqueName } from "./helpers/registry";

// Registry-wide figures and alerts (#21): batches from isolates summed per minute by the MetricsDO,
// windows with percentiles, alerts that fire once and resolve once. Each test uses a MetricsDO of
// its own (or a minute of its own), so figures other tests send never mix in.

const MINUTE = 60_000;

function freshMetrics() {
	return env.METRICS.get(env.METRICS.idFromName(uniqueName("metrics")));
}

/** A route's counts from known latencies and statuses. */
function counts(latencies: number[], status = 200, outcome?: "hit" | "miss"): RouteCounts {
	const c = emptyRouteCounts();
	for (const ms of latencies) {
		c.requests += 1;
		if (status < 300) c.s2xx += 1;
		else if (status < 500) c.s4xx += 1;
		else c.s5xx += 1;
		if (outcome) c[outcome] += 1;
		const b = latencyBucket(ms);
		c.histogram[b] = (c.histogram[b] ?? 0) + 1;
	}
	if (status >= 400) c.refused = { versionExists: latencies.length };
	return c;
}

const repeat = (n: number, ms: number) => new Array<number>(n).fill(ms);

describe("registry-wide metrics (#21)", () => {
	it("sums the batches of two isolates in the aggregate", async () => {
		const metrics = freshMetrics();
		const at = Date.UTC(2030, 0, 1, 12, 0, 30);
		const a: MetricsBatch = {
			at,
			routes: { "GET /{name}": counts(repeat(3, 10), 200, "hit") },
			counters: { "auth.failed": 2, "object.package": 1 },
		};
		const b: MetricsBatch = {
			at: at + 10_000,
			routes: { "GET /{name}": counts(repeat(1, 10), 200, "miss"), "PUT /{name}": counts(repeat(2, 100), 403) },
			counters: { "auth.failed": 1 },
		};
		await metrics.ingest(a);
		await metrics.ingest(b);
		const summary = await metrics.summary(at + 20_000);
		const window = summary.windows["5m"];
		expect(window.routes["GET /{name}"]).toMatchObject({ requests: 4, hitRate: 0.75, cache: { hit: 3, miss: 1 } });
		expect(window.routes["PUT /{name}"]).toMatchObject({
			requests: 2,
			clientErrorRate: 1,
			refused: { versionExists: 2 },
		});
		expect(window.all.requests).toBe(6);
		expect(window.counters).toEqual({ "auth.failed": 3, "object.package": 1, "metrics.batches": 2 });
		expect(window.objectCallsPer1000Reads).toBe(250);
		// The hour and day windows hold them too; a window that ended before holds nothing.
		expect(summary.windows["1d"].all.requests).toBe(6);
		expect((await metrics.summary(at + 10 * MINUTE)).windows["5m"].all.requests).toBe(0);
	});

	it("reads p50, p95 and p99 from the latency histogram", async () => {
		const metrics = freshMetrics();
		const at = Date.UTC(2030, 0, 2, 12, 0, 0);
		// 90 answers in 10 ms, 8 in 200 ms, 2 in 900 ms (a bucket up to 1000 ms).
		const latencies = [...repeat(90, 10), ...repeat(8, 200), ...repeat(2, 900)];
		await metrics.ingest({ at, routes: { "GET /{name}": counts(latencies) }, counters: {} });
		const route = (await metrics.summary(at)).windows["1h"].routes["GET /{name}"];
		expect(route).toMatchObject({ p50: 10, p95: 200, p99: 1000 });
		expect(HISTOGRAM_BUCKETS).toBe(43);
		expect(latencyBucket(0)).toBe(0);
		expect(latencyBucket(1_000_000)).toBe(HISTOGRAM_BUCKETS - 1);
	});

	it("rolls minutes older than a day up into hours, keeping their sums", async () => {
		const metrics = freshMetrics();
		const at = Date.UTC(2030, 0, 3, 12, 0, 0);
		await metrics.ingest({ at, routes: { "GET /{name}": counts(repeat(5, 10)) }, counters: { "auth.failed": 4 } });
		await metrics.ingest({ at: at + MINUTE, routes: { "GET /{name}": counts(repeat(2, 10)) }, counters: {} });
		await metrics.check(at + 2 * 86_400_000);
		const rows = await runInDurableObject(metrics, (_instance, state) => ({
			minutes: state.storage.sql.exec(`SELECT count(*) AS n FROM route_minutes`).one().n,
			hours: state.storage.sql
				.exec<{ counts: string }>(`SELECT counts FROM route_hours`)
				.toArray()
				.map((r) => (JSON.parse(r.counts) as RouteCounts).requests),
			failed: state.storage.sql.exec(`SELECT value FROM counter_hours WHERE name = 'auth.failed'`).one().value,
		}));
		expect(rows).toEqual({ minutes: 0, hours: [7], failed: 4 });
	});

	it("fires an alert once when its condition starts and resolves it once when it ends", async () => {
		const metrics = freshMetrics();
		const at = Date.UTC(2030, 0, 4, 12, 0, 0);
		await metrics.ingest({ at, routes: { "GET /{name}": counts(repeat(30, 900)) }, counters: {} });
		await metrics.check(at);
		await metrics.check(at + MINUTE);
		const firing = await metrics.alertList();
		expect(firing.map((a) => [a.name, a.status])).toEqual([["latency", "firing"]]);
		expect(firing[0]?.text).toContain("p95 latency");

		await metrics.ingest({ at: at + 10 * MINUTE, routes: { "GET /{name}": counts(repeat(30, 5)) }, counters: {} });
		await metrics.check(at + 10 * MINUTE);
		await metrics.check(at + 11 * MINUTE);
		expect((await metrics.alertList()).map((a) => [a.name, a.status])).toEqual([["latency", "resolved"]]);
	});

	it("posts each alert change to the webhook, Slack-compatible and signed, retrying a failure", async () => {
		const metrics = freshMetrics();
		const at = Date.UTC(2030, 0, 5, 12, 0, 0);
		const batch = { at, routes: { "PUT /{name}": counts(repeat(4, 50), 403) }, counters: {} };
		await metrics.ingest(batch);
		const received: { body: string; signature: string | null }[] = [];
		let answer = 500;
		const send: Send = async (_url, init) => {
			received.push({ body: String(init.body), signature: new Headers(init.headers).get("x-registry-signature") });
			return new Response(null, { status: answer });
		};
		const webhook = { url: "https://alerts.example/hook", secret: "alert-secret" };
		const next = await runInDurableObject(metrics, (_instance, state) => {
			const sql = state.storage.sql;
			const alerts = new Alerts(sql, send);
			state.storage.transactionSync(() => alerts.apply(conditions(new Figures(sql), config(env), at), at, webhook.url));
			return alerts.deliver(webhook, at, MINUTE);
		});
		expect(received).toHaveLength(1);
		expect(next).toBe(at + MINUTE);
		answer = 200;
		await runInDurableObject(metrics, (_instance, state) =>
			new Alerts(state.storage.sql, send).deliver(webhook, at + MINUTE, MINUTE),
		);
		expect(received).toHaveLength(2);
		const [, delivered] = received;
		const body = JSON.parse(delivered?.body ?? "{}") as { text: string; alert: string; status: string };
		expect(body).toMatchObject({ alert: "publishFailures", status: "firing" });
		expect(body.text).toContain("4 of 4 publishes failed");
		const key = await crypto.subtle.importKey(
			"raw",
			new TextEncoder().encode("alert-secret"),
			{ name: "HMAC", hash: "SHA-256" },
			false,
			["verify"],
		);
		const hex = (delivered?.signature ?? "").replace(/^sha256=/, "");
		const mac = new Uint8Array(hex.match(/../g)?.map((h) => Number.parseInt(h, 16)) ?? []);
		expect(await crypto.subtle.verify("HMAC", key, mac, new TextEncoder().encode(delivered?.body ?? ""))).toBe(true);
	});

	it("raises the storage alert at 80 % of ALERT_STORAGE_BYTES, from the bytes package objects report", async () => {
		const metrics = freshMetrics();
		await metrics.reportStorage("a", 500);
		await metrics.reportStorage("b", 300);
		await metrics.reportStorage("a", 400);
		const storage = (cfgBytes: number) =>
			runInDurableObject(metrics, (_instance, state) =>
				conditions(new Figures(state.storage.sql), { ...config(env), alertStorageBytes: cfgBytes }, Date.now()).find(
					(c) => c.name === "storage",
				),
			);
		expect(await storage(1000)).toMatchObject({ active: false, value: 0.7 });
		expect(await storage(800)).toMatchObject({ active: true, value: 700 / 800 });
		expect(await storage(0)).toMatchObject({ active: false, value: null });
	});

	it("sees a package's downloads spike over its daily average, and alerts naming it", async () => {
		const name = uniqueName("spiky");
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const now = new Date(Date.UTC(2030, 5, 30, 18));
		const spikes = await runInDurableObject(packageStub(name), (_instance, state) => {
			const downloads = new Downloads(state.storage.sql);
			// Ten days of 10 a day, then 90 today: 9x the average, not over 10x.
			for (let d = 1; d <= 10; d++) downloads.count("1.0.0", 10, new Date(now.getTime() - d * 86_400_000));
			downloads.count("1.0.0", 90, now);
			const calm = downloadSpike(downloads, 10, now);
			downloads.count("1.0.0", 20, now);
			return {
				calm,
				spiking: downloadSpike(downloads, 10, now),
				fresh: downloadSpike(new Downloads(state.storage.sql), 10, new Date(Date.UTC(2031, 0, 1))),
			};
		});
		expect(spikes).toEqual({ calm: null, spiking: { day: "2030-06-30", today: 110, average: 10 }, fresh: null });

		const metrics = freshMetrics();
		await metrics.reportDownloadSpike(name, spikes.spiking);
		await metrics.check(now.getTime());
		const [alert] = await metrics.alertList();
		expect(alert).toMatchObject({ name: "downloadSpike", status: "firing", value: 11 });
		expect(alert?.text).toContain(name);
		// The next day the row no longer counts; a report of calm removes it.
		await metrics.check(now.getTime() + 86_400_000);
		expect((await metrics.alertList())[0]?.status).toBe("resolved");
	});

	it("hears each package's tarball bytes from its object's alarm", async () => {
		const name = uniqueName("stored");
		const token = await publisherFor(name);
		expect((await publish(name, "1.0.0", token)).status).toBe(201);
		const stored = () =>
			runInDurableObject(metricsObject(env), (_instance, state) =>
				state.storage.sql.exec<{ bytes: number }>(`SELECT bytes FROM package_storage WHERE name = ?`, name).toArray(),
			);
		for (let i = 0; i < 200 && (await stored()).length === 0; i++) await scheduler.wait(25);
		expect((await stored())[0]?.bytes).toBeGreaterThan(0);
	});

	it("counts real requests by route, status and refusal, and sends them in one batch", async () => {
		const name = uniqueName("counted");
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		expect((await publish(name, "1.0.0", token)).status).toBe(403);
		await call(`/${name}`, { token });
		await call("/-/whoami", { token: "dev_wrong" });
		await sendMetrics(env);
		const summary = (await (await call("/-/admin/metrics", { token: ADMIN })).json()) as {
			registry: {
				windows: {
					"5m": {
						routes: Record<string, { requests: number; refused: Record<string, number> }>;
						counters: Record<string, number>;
					};
				};
			};
		};
		const window = summary.registry.windows["5m"];
		expect(window.routes["PUT /{name}"]?.requests).toBeGreaterThanOrEqual(2);
		expect(window.routes["PUT /{name}"]?.refused.versionExists).toBeGreaterThanOrEqual(1);
		expect(window.routes["GET /{name}"]?.requests).toBeGreaterThanOrEqual(1);
		expect(window.counters["auth.failed"]).toBeGreaterThanOrEqual(1);
	});

	it("notes a token writing from an address range it had never written from", async () => {
		const metrics = freshMetrics();
		const at = Date.UTC(2030, 0, 6, 12, 0, 0);
		const wrote = (prefix: string, range: string, when: number) =>
			metrics.ingest({ at: when, routes: {}, counters: { [`token.write.${prefix} ${range}`]: 1 } });
		await wrote("dev_aaaa1111", "203.0.113.0/24", at);
		await wrote("dev_aaaa1111", "203.0.113.0/24", at + MINUTE);
		await wrote("dev_bbbb2222", "198.51.100.0/24", at + MINUTE);
		expect((await metrics.summary(at)).security.newTokenRanges).toEqual([]);
		await wrote("dev_aaaa1111", "198.51.100.0/24", at + 2 * MINUTE);
		expect((await metrics.summary(at)).security.newTokenRanges).toEqual([
			{ prefix: "dev_aaaa1111", range: "198.51.100.0/24", at: new Date(at + 2 * MINUTE).toISOString() },
		]);
		// Kept apart from the counters.
		expect((await metrics.summary(at + 2 * MINUTE)).windows["5m"].counters).toEqual({ "metrics.batches": 4 });
	});

	it("counts a token's write from its address for that check", async () => {
		const name = uniqueName("ranged");
		const { token, prefix } = await createToken([{ package: name, permissions: ["read", "upload", "publish"] }]);
		const res = await call(`/${name}`, {
			method: "PUT",
			token,
			headers: { "cf-connecting-ip": "192.0.2.77" },
			body: JSON.stringify((await publishBody(name, "1.0.0")).body),
		});
		expect(res.status).toBe(201);
		await sendMetrics(env);
		const ranges = await runInDurableObject(metricsObject(env), (_instance, state) =>
			state.storage.sql.exec<{ range: string }>(`SELECT range FROM token_ranges WHERE prefix = ?`, prefix).toArray(),
		);
		expect(ranges).toEqual([{ range: "192.0.2.0/24" }]);
	});

	it("names routes by method and pattern, scoped and unscoped names alike", () => {
		const cases: [string, string, string][] = [
			["GET", "/@:scope/:pkg/-/:file", "GET /{name}/-/{file}"],
			["GET", "/:pkg/-/:file", "GET /{name}/-/{file}"],
			["PUT", "/:pkg", "PUT /{name}"],
			["GET", "/files/:path+", "GET /files/{path}"],
			[
				"POST",
				"/packages/@:scope/:pkg/channels/:channel/rollback",
				"POST /packages/{name}/channels/{channel}/rollback",
			],
			["GET", "*", "GET *"],
		];
		for (const [method, pattern, name] of cases) expect(metricsRouteName(method, pattern)).toBe(name);
		expect(metricsRouteName("PUT", "/:pkg")).toBe(metricsRouteName("PUT", "/:pkg"));
	});

	it("groups failed authentications by the client's /24 or /48, and by the user name tried", async () => {
		expect(
			[null, "bogus", "203.0.113.7", "::ffff:203.0.113.7", "2001:db8:1:2::1"].map((ip) => addressRange(ip)),
		).toEqual(["unknown", "unknown", "203.0.113.0/24", "203.0.113.0/24", "2001:db8:1::/48"]);
		const res = await call("/-/whoami", { token: "dev_wrong", headers: { "cf-connecting-ip": "198.51.100.23" } });
		expect(res.status).toBe(401);
		await sendMetrics(env);
		const summary = (await (await call("/-/admin/metrics", { token: ADMIN })).json()) as {
			registry: { windows: { "5m": { counters: Record<string, number> } } };
		};
		const counters = summary.registry.windows["5m"].counters;
		expect(counters["auth.failed.from.198.51.100.0/24"]).toBeGreaterThanOrEqual(1);
		expect(counters["auth.failed.kind.unauthorized"]).toBeGreaterThanOrEqual(1);
	});

	it("shows performance, security and alerts on the operations dashboard, to admins only", async () => {
		await call("/-/whoami", { token: "dev_wrong" });
		await sendMetrics(env);
		const res = await call("/-/dashboard/operations", { token: ADMIN });
		expect(res.status).toBe(200);
		const text = await res.text();
		for (const heading of [
			"Alerts",
			"Performance",
			"Security",
			"p50 / p95 / p99",
			"Failed authentications per minute",
		]) {
			expect(text).toContain(heading);
		}
		expect(text).toContain("<svg");
		expect(text).toMatch(/GET \/-\/whoami/);
		expect((await call("/-/dashboard/operations")).status).toBe(401);
		const developer = await publisherFor(uniqueName());
		expect((await call("/-/dashboard/operations", { token: developer })).status).toBe(403);
	});
});
