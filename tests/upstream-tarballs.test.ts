import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, type Packument, uniqueName } from "./helpers/registry";
import {
	ABBREVIATED,
	ageCopies,
	cut,
	hang,
	publishUpstream,
	restore,
	tamper,
	unsized,
	untamper,
	upstreamRequests,
} from "./helpers/upstream";

// Tarballs of upstream packages: fetched once, on first request, from upstream; checked against
// upstream's integrity before that request is answered (a small one from memory while R2 stores
// it, the others once stored); served from R2 (and the read tier) ever after, whether or not
// upstream is there.

/** Requests that skip the Worker's read tier: what the package's object makes of them. */
const fresh = { "cache-control": "no-cache" };

const tarballPath = (name: string, version: string) => `/${name}/-/${name}-${version}.tgz`;

async function bytesOf(res: Response): Promise<Uint8Array> {
	expect(res.status).toBe(200);
	return new Uint8Array(await res.arrayBuffer());
}

describe("an upstream tarball", () => {
	it("is fetched on first request, stored once its bytes match, and served from R2 and the read tier after, upstream down or not", async () => {
		const name = uniqueName("up-tgz");
		const published = await publishUpstream(name, "1.0.0");
		const first = await call(tarballPath(name, "1.0.0"));
		expect(first.headers.get("x-registry-upstream")).toBe("miss");
		expect(first.headers.get("etag")).toBe(`"${published.integrity}"`);
		expect(first.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
		expect(await bytesOf(first)).toEqual(published.tgz);
		const stored = (await env.BLOBS.list({ prefix: `upstream/${name}/1.0.0/` })).objects;
		expect(stored.map((o) => o.size)).toEqual([published.tgz.byteLength]);

		await cut();
		try {
			const fromTier = await call(tarballPath(name, "1.0.0"));
			expect(await bytesOf(fromTier)).toEqual(published.tgz);
			const fromObject = await call(tarballPath(name, "1.0.0"), { headers: fresh });
			expect(fromObject.headers.get("x-registry-upstream")).toBe("hit");
			expect(fromObject.headers.get("content-length")).toBe(String(published.tgz.byteLength));
			expect(await bytesOf(fromObject)).toEqual(published.tgz);
		} finally {
			await restore();
		}
		expect((await upstreamRequests(name)).filter((r) => r.path.endsWith(".tgz"))).toHaveLength(1);
	});

	it("makes one upstream fetch of the document and one of each tarball for fifty concurrent first installs", async () => {
		const name = uniqueName("up-fifty");
		const versions = ["1.0.0", "1.1.0"];
		const published = [await publishUpstream(name, "1.0.0"), await publishUpstream(name, "1.1.0")];
		// Every other install skips the Worker's read tier (which also coalesces, per isolate): the
		// object has to make "once" hold by itself.
		const install = async (i: number) => {
			const headers = i % 2 === 0 ? fresh : {};
			const doc = (await (
				await call(`/${name}`, { headers: { ...headers, accept: ABBREVIATED } })
			).json()) as Packument;
			expect(Object.keys(doc.versions)).toEqual(versions);
			return Promise.all(versions.map(async (v) => bytesOf(await call(tarballPath(name, v), { headers }))));
		};
		const installed = await Promise.all(Array.from({ length: 50 }, (_, i) => install(i)));
		for (const [a, b] of installed) {
			expect(a).toEqual(published[0]?.tgz);
			expect(b).toEqual(published[1]?.tgz);
		}
		const asked = (await upstreamRequests(name)).map((r) => r.path).sort();
		expect(asked).toEqual([`/${name}`, tarballPath(name, "1.0.0"), tarballPath(name, "1.1.0")]);
	});

	it("makes one upstream fetch of each for fifty concurrent tarball requests with no packument asked first (a lockfile install)", async () => {
		const name = uniqueName("up-lockfile");
		const published = await publishUpstream(name, "2.0.0");
		const got = await Promise.all(
			Array.from({ length: 50 }, async (_, i) =>
				bytesOf(await call(tarballPath(name, "2.0.0"), i % 2 ? {} : { headers: fresh })),
			),
		);
		for (const bytes of got) expect(bytes).toEqual(published.tgz);
		expect((await upstreamRequests(name)).map((r) => r.path).sort()).toEqual([`/${name}`, tarballPath(name, "2.0.0")]);
	});

	it("fails a download whose bytes do not match upstream's integrity, stores nothing, and tries again next time", async () => {
		const name = uniqueName("up-tampered");
		const published = await publishUpstream(name, "1.0.0");
		expect((await call(`/${name}`, { headers: { accept: ABBREVIATED } })).status).toBe(200);
		const path = tarballPath(name, "1.0.0");
		await tamper(path);
		try {
			// A tarball this size is checked before any byte goes out (#22.13): the request that starts
			// the fetch and those that wait for it all get the 502. None gets the bytes, none is stored.
			const responses = await Promise.all(Array.from({ length: 5 }, () => call(path, { headers: fresh })));
			for (const res of responses) {
				expect(res.status).toBe(502);
				expect(await res.json()).toEqual({
					code: "upstreamIntegrity",
					error: `upstream tarball of ${name}@1.0.0: the bytes do not match the integrity upstream published; nothing was stored`,
				});
			}
			// One fetch for the requests that overlap it; one that comes after it failed tries again.
			const fetches = () => upstreamRequests(name).then((log) => log.filter((r) => r.path === path).length);
			const tried = await fetches();
			expect(tried).toBeGreaterThanOrEqual(1);
			expect(tried).toBeLessThanOrEqual(responses.length);
			expect((await env.BLOBS.list({ prefix: `upstream/${name}/` })).objects).toEqual([]);

			// The next request tries again (and fails again: upstream's bytes are still wrong).
			const second = await call(path);
			expect(second.status).toBe(502);
			expect(((await second.json()) as { code: string }).code).toBe("upstreamIntegrity");
			expect(await fetches()).toBe(tried + 1);
			expect((await env.BLOBS.list({ prefix: `upstream/${name}/` })).objects).toEqual([]);
		} finally {
			await untamper(path);
		}
		expect(await bytesOf(await call(path))).toEqual(published.tgz);
		expect((await env.BLOBS.list({ prefix: `upstream/${name}/` })).objects).toHaveLength(1);
	});

	it("is fetched for a version published upstream after the packument was cached", async () => {
		const name = uniqueName("up-newer");
		await publishUpstream(name, "1.0.0");
		expect((await call(`/${name}`, { headers: { accept: ABBREVIATED } })).status).toBe(200);
		const newer = await publishUpstream(name, "1.1.0");
		// A copy fetched moments ago is believed: no such version yet.
		expect((await call(tarballPath(name, "1.1.0"))).status).toBe(404);
		await ageCopies(name, 10_000);
		expect(await bytesOf(await call(tarballPath(name, "1.1.0")))).toEqual(newer.tgz);
	});

	it("answers a HEAD without reading the bytes, and still stores them", async () => {
		const name = uniqueName("up-head");
		const published = await publishUpstream(name, "1.0.0");
		const head = await call(tarballPath(name, "1.0.0"), { method: "HEAD" });
		expect(head.status).toBe(200);
		expect(head.headers.get("etag")).toBe(`"${published.integrity}"`);
		expect(await bytesOf(await call(tarballPath(name, "1.0.0"), { headers: fresh }))).toEqual(published.tgz);
		expect((await upstreamRequests(name)).filter((r) => r.path.endsWith(".tgz"))).toHaveLength(1);
	});

	it("is stored when upstream sends it without a Content-Length", async () => {
		const name = uniqueName("up-unsized");
		const published = await publishUpstream(name, "1.0.0");
		await unsized(tarballPath(name, "1.0.0"));
		// Checked and stored before it is answered (#22.13), so even the first answer says its length.
		const first = await call(tarballPath(name, "1.0.0"));
		expect(first.headers.get("content-length")).toBe(String(published.tgz.byteLength));
		expect(await bytesOf(first)).toEqual(published.tgz);
		const stored = (await env.BLOBS.list({ prefix: `upstream/${name}/1.0.0/` })).objects;
		expect(stored.map((o) => o.size)).toEqual([published.tgz.byteLength]);
		const again = await call(tarballPath(name, "1.0.0"), { headers: fresh });
		expect(again.headers.get("content-length")).toBe(String(published.tgz.byteLength));
		expect(await bytesOf(again)).toEqual(published.tgz);
	});

	it("is given up on when upstream does not begin to send it within UPSTREAM_TIMEOUT_SECONDS", async () => {
		const name = uniqueName("up-tgz-hung");
		await publishUpstream(name, "1.0.0");
		await hang(tarballPath(name, "1.0.0"));
		const res = await call(tarballPath(name, "1.0.0"));
		expect(res.status).toBe(504);
		expect(((await res.json()) as { code: string }).code).toBe("upstreamTimeout");
		expect((await env.BLOBS.list({ prefix: `upstream/${name}/` })).objects).toEqual([]);
	});

	it("is 404 for a version upstream does not have", async () => {
		const name = uniqueName("up-noversion");
		await publishUpstream(name, "1.0.0");
		const res = await call(tarballPath(name, "7.0.0"));
		expect(res.status).toBe(404);
		expect((await upstreamRequests(name)).filter((r) => r.path.endsWith(".tgz"))).toEqual([]);
	});
});
