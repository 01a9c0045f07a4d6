import { createExecutionContext, env, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { DEFAULTS } from "../schema/config";
import { traceSnapshot } from "../worker/metrics/trace";
import { metricsSnapshot } from "../worker/read-tier/metrics";
import { router } from "../worker/router";
import { packageStub, runPackageAlarm } from "./helpers/package-object";
import { call, uniqueName } from "./helpers/registry";
import { ABBREVIATED, publishUpstream, upstreamRequests } from "./helpers/upstream";

// What an install through this registry as a proxy costs beside the requests themselves (#25):
// the background work it leaves behind runs after it, not in the middle of it.

const packumentRequests = async (name: string) => (await upstreamRequests(name)).filter((r) => r.path === `/${name}`);
const alarmOf = (name: string) => runInDurableObject(packageStub(name), (_instance, state) => state.storage.getAlarm());

describe("the upstream figures of an install", () => {
	it("are sent 30 s after an object's first count, not DOWNLOAD_FLUSH_SECONDS, so an install's objects do not all wake during it (#25)", async () => {
		expect(DEFAULTS.downloadFlushSeconds * 1000).toBeLessThan(30_000);
		const name = uniqueName("up-figures-later");
		await publishUpstream(name, "1.0.0");
		const asked = Date.now();
		const packument = await call(`/${name}`, { headers: { accept: ABBREVIATED, "cache-control": "no-cache" } });
		expect(packument.status).toBe(200);
		const tarball = await call(`/${name}/-/${name}-1.0.0.tgz`, { headers: { "cache-control": "no-cache" } });
		expect(tarball.status).toBe(200);
		await tarball.arrayBuffer();
		const alarm = await alarmOf(name);
		expect(alarm).not.toBeNull();
		expect(alarm ?? 0).toBeGreaterThanOrEqual(asked + 30_000);
		expect(alarm ?? 0).toBeLessThanOrEqual(Date.now() + 30_000);
		// The alarm sends them, and the object has nothing left for later.
		await runPackageAlarm(name);
		expect(await alarmOf(name)).toBeNull();
	});
});

describe("a warm install through the proxy", () => {
	/** A read through a read tier whose entries expire at once, its background work (colo cache puts) done. */
	const read = async (path: string, headers: Record<string, string> = {}) => {
		// Time in workerd moves on I/O: a short wait makes the previous entry expire.
		await scheduler.wait(5);
		const ctx = createExecutionContext();
		const res = await router.fetch(
			new Request(`http://registry.test${path}`, { headers }),
			{ ...env, READ_CACHE_SECONDS: "0.001" },
			ctx,
		);
		expect(res.status).toBe(200);
		await res.arrayBuffer();
		await waitOnExecutionContext(ctx);
		return res.headers.get("x-registry-cache");
	};

	it("confirms its expired entries with the object's revision only, neither reading nor writing the colo's cache again (#25)", async () => {
		const name = uniqueName("up-warm");
		await publishUpstream(name, "1.0.0");
		const packument = `/${name}`;
		const tarball = `/${name}/-/${name}-1.0.0.tgz`;
		expect(await read(packument, { accept: ABBREVIATED })).toBe("miss");
		await read(tarball);
		await read(tarball);
		const match = vi.spyOn(caches.default, "match");
		const put = vi.spyOn(caches.default, "put");
		try {
			expect(await read(packument, { accept: ABBREVIATED })).toBe("revalidated");
			expect(await read(tarball)).toBe("revalidated");
			expect(match).not.toHaveBeenCalled();
			expect(put).not.toHaveBeenCalled();
		} finally {
			match.mockRestore();
			put.mockRestore();
		}
	});
});

describe("the first download of an upstream tarball", () => {
	it("asks its package object once for the bytes: the call that finds nothing stored goes on to upstream (#25)", async () => {
		const name = uniqueName("up-one-call");
		const published = await publishUpstream(name, "1.0.0");
		const methods = () => ({ ...traceSnapshot().objectMethods.package });
		const before = methods();
		const ctx = createExecutionContext();
		const first = await router.fetch(new Request(`http://registry.test/${name}/-/${name}-1.0.0.tgz`), env, ctx);
		expect(first.headers.get("x-registry-upstream")).toBe("miss");
		expect(new Uint8Array(await first.arrayBuffer())).toEqual(published.tgz);
		await waitOnExecutionContext(ctx);
		const asked = Object.entries(methods())
			.map(([method, n]) => [method, n - (before[method] ?? 0)])
			.filter(([, n]) => n !== 0);
		// Besides that one call, only the background one that learns where the bytes were stored.
		expect(Object.fromEntries(asked)).toEqual({ tarballOrUpstream: 1, storedUpstreamTarball: 1 });
	});

	it("leaves its location and bytes in this isolate once stored: the next download asks neither the package object nor R2 (#25)", async () => {
		const name = uniqueName("up-first-fetch");
		const published = await publishUpstream(name, "1.0.0");
		const path = `/${name}/-/${name}-1.0.0.tgz`;
		const ctx = createExecutionContext();
		const first = await router.fetch(new Request(`http://registry.test${path}`), env, ctx);
		expect(first.headers.get("x-registry-upstream")).toBe("miss");
		expect(new Uint8Array(await first.arrayBuffer())).toEqual(published.tgz);
		await waitOnExecutionContext(ctx);
		const asked = () => [metricsSnapshot().objectCalls.package, traceSnapshot().r2Reads.upstream ?? 0];
		const before = asked();
		const next = await call(path);
		expect(next.headers.get("x-registry-cache")).toBe("hit");
		expect(next.headers.get("x-registry-upstream")).toBe("hit");
		expect(new Uint8Array(await next.arrayBuffer())).toEqual(published.tgz);
		expect(asked()).toEqual(before);
	});
});

describe("a name's first packument", () => {
	it("is answered before its object stores it, with the revision the stored copies then have, whichever form comes first (#25)", async () => {
		for (const order of [
			["abbreviated", "full"],
			["full", "abbreviated"],
		] as const) {
			const name = uniqueName("up-first-answer");
			await publishUpstream(name, "1.0.0");
			const stub = packageStub(name);
			const answers = [];
			for (const form of order) {
				const answer = await stub.servedPackument(name, form, null);
				if (!answer.ok) throw new Error(answer.message);
				expect(answer.value.upstream?.outcome).toBe("miss");
				// The read tier keeps the answer under this revision and revalidates it by revision().
				expect(await stub.revision(name)).toBe(answer.value.rev);
				answers.push(answer.value);
			}
			expect(answers[1]?.rev).not.toBe(answers[0]?.rev);
			// What was answered is what was stored: the next reads are hits with the same bytes.
			for (const [i, form] of order.entries()) {
				const again = await stub.servedPackument(name, form, null);
				if (!again.ok) throw new Error(again.message);
				expect(again.value.upstream?.outcome).toBe("hit");
				expect(again.value.etag).toBe(answers[i]?.etag);
				expect(again.value.body).toBe(answers[i]?.body);
			}
		}
	});

	it("serves the reads that arrive while the object stores it from that copy, asking upstream once (#25)", async () => {
		const name = uniqueName("up-first-together");
		await publishUpstream(name, "1.0.0");
		const read = () => call(`/${name}`, { headers: { accept: ABBREVIATED, "cache-control": "no-cache" } });
		const answers = await Promise.all([read(), read(), read(), read()]);
		expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 200]);
		const bodies = await Promise.all(answers.map((res) => res.text()));
		expect(new Set(answers.map((res) => res.headers.get("etag"))).size).toBe(1);
		expect(new Set(bodies).size).toBe(1);
		expect(await packumentRequests(name)).toHaveLength(1);
		const tarball = await call(`/${name}/-/${name}-1.0.0.tgz`, { headers: { "cache-control": "no-cache" } });
		expect(tarball.status).toBe(200);
		await tarball.arrayBuffer();
		// The tarball's version was learnt from the stored copy, not from another question to upstream.
		expect(await packumentRequests(name)).toHaveLength(1);
	});
});
