import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../schema/config";
import { router } from "../worker/router";
import { ADMIN, call, type Packument, uniqueName } from "./helpers/registry";
import type { ListedKey } from "./helpers/signatures";
import { checksums } from "./helpers/tarball";
import {
	ABBREVIATED,
	ageCopies,
	backgroundSettled,
	failPath,
	packageTables,
	publishUpstream,
	slow,
	stall,
	substitute,
	tamper,
	tarballFetchesSettled,
	UPSTREAM,
	unsized,
	untamper,
	upstreamRequests,
} from "./helpers/upstream";

// Issue #22's items about the upstream proxy, each through the HTTP surface with a hostile
// upstream in the test network (tests/helpers/upstream-network.js).

const NOT_FOUND = DEFAULTS.upstreamNotFoundSeconds * 1000;
const MAX_AGE = DEFAULTS.upstreamMaxAgeSeconds * 1000;
/** Requests that skip the Worker's read tier: what the package's object makes of them. */
const fresh = { "cache-control": "no-cache" };

describe("a name no upstream has", () => {
	it("#22.2 creates no package database, and is asked upstream once per UPSTREAM_NOT_FOUND_SECONDS", async () => {
		const name = uniqueName("up-made-up");
		const reads = [
			() => call(`/${name}`, { headers: fresh }),
			() => call(`/${name}`, { headers: { ...fresh, accept: ABBREVIATED } }),
			() => call(`/${name}/1.0.0`, { headers: fresh }),
			() => call(`/${name}/latest`, { headers: fresh }),
			() => call(`/${name}/-/${name}-1.0.0.tgz`, { headers: fresh }),
		];
		for (const read of [...reads, ...reads]) expect((await read()).status).toBe(404);
		const asked = async () => (await upstreamRequests(name)).length;
		expect(await asked()).toBe(1);
		expect(await upstreamRequests(name, "second-upstream.test")).toHaveLength(1);
		expect(await packageTables(name)).toEqual([]);

		await ageCopies(name, NOT_FOUND + 1000);
		for (const read of reads) expect((await read()).status).toBe(404);
		expect(await asked()).toBe(2);
		expect(await packageTables(name)).toEqual([]);
	});
});

const tarballPath = (name: string, version: string) => `/${name}/-/${name}-${version}.tgz`;

/** Bytes random enough that gzip keeps them large: a tarball over one 5 MiB part. */
function incompressible(size: number): Uint8Array {
	const bytes = new Uint8Array(size);
	for (let at = 0; at < size; at += 65_536) crypto.getRandomValues(bytes.subarray(at, at + 65_536));
	return bytes;
}

/** Fetches a tarball through the object (no read tier): the first request begins the fetch, the others wait. */
async function firstInstalls(path: string, count: number): Promise<{ started: Response[]; refused: Response[] }> {
	const responses = await Promise.all(Array.from({ length: count }, () => call(path, { headers: fresh })));
	return {
		started: responses.filter((res) => res.status === 200),
		refused: responses.filter((res) => res.status !== 200),
	};
}

describe("a slow upstream tarball", () => {
	it("#22.3 that trickles in is given up on after UPSTREAM_DOWNLOAD_SECONDS, every waiting client answered, nothing stored", async () => {
		const name = uniqueName("up-trickle");
		await publishUpstream(name, "1.0.0");
		expect((await call(`/${name}`, { headers: { accept: ABBREVIATED } })).status).toBe(200);
		await slow(tarballPath(name, "1.0.0"));
		const began = Date.now();
		// Checked before any byte goes out (#22.13): the request that began the fetch is answered as
		// those that waited for it are.
		const { started, refused } = await firstInstalls(tarballPath(name, "1.0.0"), 4);
		expect(started).toEqual([]);
		expect(refused).toHaveLength(4);
		for (const res of refused) {
			expect(res.status).toBe(504);
			expect(await res.json()).toEqual({
				code: "upstreamTimeout",
				error: `upstream tarball of ${name}@1.0.0: not received in full within 5 s`,
			});
		}
		// UPSTREAM_DOWNLOAD_SECONDS is 5 in the tests.
		expect(Date.now() - began).toBeLessThan(9_000);
		expect((await env.BLOBS.list({ prefix: `upstream/${name}/` })).objects).toEqual([]);
	});

	it("#22.3 that stops halfway is given up on after UPSTREAM_TIMEOUT_SECONDS without a byte, every waiting client answered", async () => {
		const name = uniqueName("up-stalled");
		await publishUpstream(name, "1.0.0");
		expect((await call(`/${name}`, { headers: { accept: ABBREVIATED } })).status).toBe(200);
		await stall(tarballPath(name, "1.0.0"));
		const began = Date.now();
		const { started, refused } = await firstInstalls(tarballPath(name, "1.0.0"), 4);
		expect(started).toEqual([]);
		expect(refused).toHaveLength(4);
		for (const res of refused) {
			expect(res.status).toBe(504);
			expect(await res.json()).toEqual({
				code: "upstreamTimeout",
				error: `upstream tarball of ${name}@1.0.0: no byte within 3 s`,
			});
		}
		expect(Date.now() - began).toBeLessThan(7_000);
		expect((await env.BLOBS.list({ prefix: `upstream/${name}/` })).objects).toEqual([]);
	});
});

describe("an upstream tarball that fails its integrity check", () => {
	it("#22.5 leaves nothing in R2, for a tarball of one part and of several, and is stored whole once upstream is right", async () => {
		const name = uniqueName("up-failed-bytes");
		const small = await publishUpstream(name, "1.0.0");
		const large = await publishUpstream(name, "2.0.0", { files: { "blob.bin": incompressible(6 * 1024 * 1024) } });
		expect(large.tgz.byteLength).toBeGreaterThan(5 * 1024 * 1024);
		// Larger than two parts: checked before its first byte like every other size (#22.13).
		const larger = await publishUpstream(name, "3.0.0", {
			files: { "blob.bin": incompressible(8.5 * 1024 * 1024) },
		});
		expect(larger.tgz.byteLength).toBeGreaterThan(8 * 1024 * 1024);
		expect((await call(`/${name}`, { headers: { accept: ABBREVIATED } })).status).toBe(200);
		for (const [version, published] of [
			["1.0.0", small],
			["2.0.0", large],
			["3.0.0", larger],
		] as const) {
			const path = tarballPath(name, version);
			await tamper(path);
			try {
				const first = await call(path, { headers: fresh });
				// Checked before any byte goes out (#22.13): a clean refusal, whatever the size.
				expect(first.status).toBe(502);
				expect(((await first.json()) as { code: string }).code).toBe("upstreamIntegrity");
				// The answer comes once the check failed; the object's cleanup of R2 may end after.
				await tarballFetchesSettled(name);
				expect((await env.BLOBS.list({ prefix: `upstream/${name}/${version}/` })).objects).toEqual([]);
			} finally {
				await untamper(path);
			}
			const good = await call(path, { headers: fresh });
			// Compared by digest: a failing deep comparison of megabytes would print them all.
			expect(await checksums(new Uint8Array(await good.arrayBuffer()))).toEqual({
				integrity: published.integrity,
				shasum: published.shasum,
			});
			await tarballFetchesSettled(name);
			const stored = (await env.BLOBS.list({ prefix: `upstream/${name}/${version}/` })).objects;
			expect(stored.map((object) => object.size)).toEqual([published.tgz.byteLength]);
		}
	});
});

describe("GET /-/npm/v1/keys", () => {
	it("#22.11 remembers that an upstream's keys fail: one upstream call for twenty requests, each answered with this registry's key", async () => {
		// An upstream of its own (a path on the test upstream's host), so no other test shares its cache.
		const prefix = uniqueName("keys-down");
		await failPath(`/${prefix}/-/npm/v1/keys`);
		const keys = () =>
			router.fetch(
				new Request("http://registry.test/-/npm/v1/keys"),
				{ ...env, UPSTREAM_URL: `http://upstream.test/${prefix}` },
				createExecutionContext(),
			);
		const answers = [...(await Promise.all(Array.from({ length: 10 }, keys)))];
		for (let i = 0; i < 10; i++) answers.push(await keys());
		for (const res of answers) {
			expect(res.status).toBe(200);
			const listed = ((await res.json()) as { keys: ListedKey[] }).keys;
			expect(listed).toHaveLength(1);
			expect(listed[0]?.expires).toBeNull();
		}
		const asked = await upstreamRequests(prefix);
		expect(asked.map((r) => [r.path, r.status])).toEqual([[`/${prefix}/-/npm/v1/keys`, 503]]);
	});
});

describe("an upstream that changes a published version's bytes", () => {
	type Dist = { integrity: string; shasum: string; tarball: string; signatures?: unknown[] };
	const distOf = async (name: string, accept?: string) => {
		const res = await call(`/${name}`, { headers: { ...fresh, ...(accept ? { accept } : {}) } });
		expect(res.status).toBe(200);
		const doc = (await res.json()) as Packument & { description?: string };
		return { description: doc.description, dist: doc.versions["1.0.0"]?.dist as Dist };
	};
	/** Has the object's copies go stale and refresh them from upstream (the refresh runs in the background). */
	const refresh = async (name: string) => {
		await ageCopies(name, MAX_AGE + 1000);
		for (const accept of [undefined, ABBREVIATED]) {
			await call(`/${name}`, { headers: { ...fresh, ...(accept ? { accept } : {}) } });
			await backgroundSettled(name);
		}
	};

	it("#22.10 keeps serving the integrity, shasum and bytes first seen, and records the change in the audit trail once", async () => {
		const name = uniqueName("up-changed");
		const first = await publishUpstream(name, "1.0.0");
		const otherName = uniqueName("up-changed-other");
		const other = await publishUpstream(otherName, "1.0.0", {
			files: { "index.js": "export const evil = true;\n" },
		});
		const before = await distOf(name);
		expect(before.dist.integrity).toBe(first.integrity);
		expect((await distOf(name, ABBREVIATED)).dist.integrity).toBe(first.integrity);

		// Upstream now says 1.0.0 is other bytes, at another URL on its origin.
		const upstreamDoc = (await (await fetch(`${UPSTREAM}/${name}`)).json()) as Packument & { description: string };
		const otherDoc = (await (await fetch(`${UPSTREAM}/${otherName}`)).json()) as Packument;
		const changed = {
			...upstreamDoc,
			description: "changed upstream",
			versions: { "1.0.0": { ...upstreamDoc.versions["1.0.0"], dist: otherDoc.versions["1.0.0"]?.dist } },
		};
		await substitute(`/${name}`, changed);
		await refresh(name);

		for (const accept of [undefined, ABBREVIATED]) {
			const after = await distOf(name, accept);
			if (!accept) expect(after.description).toBe("changed upstream");
			expect(after.dist.integrity).toBe(first.integrity);
			expect(after.dist.shasum).toBe(first.shasum);
			expect(after.dist.tarball).toBe(before.dist.tarball);
			expect(after.dist.signatures).toBeUndefined();
		}
		const tarball = await call(`/${name}/-/${name}-1.0.0.tgz`, { headers: fresh });
		expect(new Uint8Array(await tarball.arrayBuffer())).toEqual(first.tgz);
		expect((await upstreamRequests(otherName)).filter((r) => r.path.endsWith(".tgz"))).toEqual([]);

		// Refreshed again, the same change is not recorded twice.
		await refresh(name);
		const audit = await call(`/-/admin/audit?package=${name}`, { token: ADMIN });
		expect(audit.status).toBe(200);
		const { entries } = (await audit.json()) as {
			entries: { action: string; actor: string; target: string; detail: unknown }[];
		};
		expect(entries).toMatchObject([
			{
				action: "upstreamChanged",
				actor: "upstream",
				target: `${name}@1.0.0`,
				detail: {
					upstream: UPSTREAM,
					pinnedIntegrity: first.integrity,
					pinnedShasum: first.shasum,
					upstreamIntegrity: other.integrity,
					upstreamShasum: other.shasum,
				},
			},
		]);
	});
});

describe("an upstream tarball that fails its check, on its way to the client", () => {
	it("#22.13 is refused with the catalogue's 502 before any byte goes out, sized or not: no body errors, nothing logged as uncaught", async () => {
		const name = uniqueName("up-quiet");
		await publishUpstream(name, "1.0.0");
		await publishUpstream(name, "1.1.0");
		expect((await call(`/${name}`, { headers: { accept: ABBREVIATED } })).status).toBe(200);
		await unsized(tarballPath(name, "1.1.0"));
		for (const version of ["1.0.0", "1.1.0"]) {
			const path = tarballPath(name, version);
			await tamper(path);
			try {
				const res = await call(path, { headers: fresh });
				expect(res.status).toBe(502);
				expect(await res.json()).toEqual({
					code: "upstreamIntegrity",
					error: `upstream tarball of ${name}@${version}: the bytes do not match the integrity upstream published; nothing was stored`,
				});
				await tarballFetchesSettled(name);
				expect((await env.BLOBS.list({ prefix: `upstream/${name}/${version}/` })).objects).toEqual([]);
			} finally {
				await untamper(path);
			}
		}
	});
});
