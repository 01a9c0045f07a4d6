import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../schema/config";
import { router } from "../worker/router";
import { call, type Packument, publish, publisherFor, uniqueName, type VersionDoc } from "./helpers/registry";
import { type ListedKey, type Signature, verifies } from "./helpers/signatures";
import {
	ABBREVIATED,
	ageCopies,
	backgroundSettled,
	cut,
	hang,
	publishUpstream,
	restore,
	SECOND_UPSTREAM,
	UPSTREAM,
	upstreamRequests,
} from "./helpers/upstream";

// Names that are not this registry's are served from the upstream registries behind it (real
// instances of this registry, tests/e2e/upstream-workers.ts): their packuments cached in the
// name's object, revalidated, served stale while upstream is down. Requests with
// `cache-control: no-cache` skip the Worker's read tier, so they show what the object answers.

const MAX_AGE = DEFAULTS.upstreamMaxAgeSeconds * 1000;
const STALE_IF_ERROR = DEFAULTS.upstreamStaleIfErrorSeconds * 1000;
const NOT_FOUND = DEFAULTS.upstreamNotFoundSeconds * 1000;
const fresh = { "cache-control": "no-cache" };

const packumentRequests = async (name: string, host?: string) =>
	(await upstreamRequests(name, host)).filter((r) => r.path === `/${name}`);

describe("an upstream package", () => {
	it("is served under its own name, tarball URLs pointing here and everything else as upstream published it", async () => {
		const name = uniqueName("up");
		const published = await publishUpstream(name, "1.0.0");
		await publishUpstream(name, "1.1.0", { tag: "next" });
		const original = (await (await fetch(`${UPSTREAM}/${name}`)).json()) as Packument;

		const full = await call(`/${name}`);
		expect(full.status).toBe(200);
		expect(full.headers.get("x-registry-upstream")).toBe("miss");
		const doc = (await full.json()) as Packument;
		expect(Object.keys(doc.versions)).toEqual(["1.0.0", "1.1.0"]);
		expect(doc.versions["1.0.0"]?.dist.tarball).toBe(`http://registry.test/${name}/-/${name}-1.0.0.tgz`);
		expect(doc.versions["1.0.0"]?.dist.integrity).toBe(published.integrity);
		expect(doc.versions["1.0.0"]?.dist.shasum).toBe(published.shasum);
		expect(doc.time).toEqual(original.time);
		expect(doc["dist-tags"]).toEqual({ latest: "1.0.0", next: "1.1.0" });
		expect(doc._rev).toBe(original._rev);

		const abbreviated = await call(`/${name}`, { headers: { accept: ABBREVIATED } });
		expect(abbreviated.headers.get("content-type")).toContain(ABBREVIATED);
		const short = (await abbreviated.json()) as Packument;
		expect(short.versions["1.1.0"]?.dist.tarball).toBe(`http://registry.test/${name}/-/${name}-1.1.0.tgz`);
		expect(short.time).toBeUndefined();
		// Upstream was asked for each form once, the way installers ask (the test's own read above
		// sent no Accept).
		const asked = (await packumentRequests(name)).filter((r) => r.accept !== null);
		expect(asked.map((r) => r.accept?.startsWith(ABBREVIATED))).toEqual([false, true]);
	});

	it("answers version documents by number, tag and range from upstream's full packument", async () => {
		const name = uniqueName("up-version");
		await publishUpstream(name, "1.0.0");
		await publishUpstream(name, "1.2.0");
		await publishUpstream(name, "2.0.0-beta.1", { tag: "beta" });
		const version = async (spec: string) => {
			const res = await call(`/${name}/${encodeURIComponent(spec)}`);
			return { status: res.status, doc: res.status === 200 ? ((await res.json()) as VersionDoc) : null };
		};
		expect((await version("1.0.0")).doc?.version).toBe("1.0.0");
		expect((await version("latest")).doc?.version).toBe("1.2.0");
		expect((await version("beta")).doc?.version).toBe("2.0.0-beta.1");
		const ranged = await version("^1.0.0");
		expect(ranged.doc?.version).toBe("1.2.0");
		expect(ranged.doc?.dist.tarball).toBe(`http://registry.test/${name}/-/${name}-1.2.0.tgz`);
		expect((await version("3.0.0")).status).toBe(404);
	});

	it("is fresh for UPSTREAM_MAX_AGE_SECONDS, then served stale while one refresh asks upstream with If-None-Match", async () => {
		const name = uniqueName("up-stale");
		await publishUpstream(name, "1.0.0");
		const read = () => call(`/${name}`, { headers: { ...fresh, accept: ABBREVIATED } });
		expect((await read()).headers.get("x-registry-upstream")).toBe("miss");
		await publishUpstream(name, "1.1.0");
		const hit = await read();
		expect(hit.headers.get("x-registry-upstream")).toBe("hit");
		expect(Object.keys(((await hit.json()) as Packument).versions)).toEqual(["1.0.0"]);
		expect(await packumentRequests(name)).toHaveLength(1);

		await ageCopies(name, MAX_AGE + 1000);
		const stale = await Promise.all(Array.from({ length: 20 }, read));
		for (const res of stale) {
			expect(res.headers.get("x-registry-upstream")).toBe("stale");
			expect(res.headers.get("warning")).toBeNull();
			expect(Object.keys(((await res.json()) as Packument).versions)).toEqual(["1.0.0"]);
		}
		await backgroundSettled(name);
		const asked = await packumentRequests(name);
		expect(asked).toHaveLength(2);
		expect(asked[1]?.ifNoneMatch).not.toBeNull();
		expect(asked[1]?.status).toBe(200);

		const refreshed = await read();
		expect(refreshed.headers.get("x-registry-upstream")).toBe("hit");
		expect(Object.keys(((await refreshed.json()) as Packument).versions)).toEqual(["1.0.0", "1.1.0"]);
	});

	it("refreshes one packument of a name at a time, whatever forms and however many requests ask", async () => {
		const name = uniqueName("up-one-at-a-time");
		await publishUpstream(name, "1.0.0");
		const full = () => call(`/${name}`, { headers: fresh });
		const abbreviated = () => call(`/${name}`, { headers: { ...fresh, accept: ABBREVIATED } });
		const first = await Promise.all([full(), abbreviated(), full(), abbreviated()]);
		expect(first.map((r) => r.status)).toEqual([200, 200, 200, 200]);
		await ageCopies(name, MAX_AGE + 1000);
		const stale = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? full() : abbreviated())));
		for (const res of stale) expect(res.headers.get("x-registry-upstream")).toBe("stale");
		await backgroundSettled(name);
		// Two misses, then two refreshes: each form asked for once at a time, never both at once.
		const asked = await packumentRequests(name);
		expect(asked).toHaveLength(4);
		expect(asked.map((r) => r.overlapping)).toEqual([0, 0, 0, 0]);
	});

	it("keeps its copy when upstream answers 304 Not Modified", async () => {
		const name = uniqueName("up-304");
		await publishUpstream(name, "1.0.0");
		const read = () => call(`/${name}`, { headers: { ...fresh, accept: ABBREVIATED } });
		const first = await read();
		const etag = first.headers.get("etag");
		await ageCopies(name, MAX_AGE + 1000);
		expect((await read()).headers.get("x-registry-upstream")).toBe("stale");
		await backgroundSettled(name);
		const asked = await packumentRequests(name);
		expect(asked.map((r) => r.status)).toEqual([200, 304]);
		const again = await read();
		expect(again.headers.get("x-registry-upstream")).toBe("hit");
		expect(again.headers.get("etag")).toBe(etag);
	});

	it("is served stale with a Warning while upstream is down, until UPSTREAM_STALE_IF_ERROR_SECONDS past its max age", async () => {
		const name = uniqueName("up-down");
		await publishUpstream(name, "1.0.0");
		const read = () => call(`/${name}`, { headers: { ...fresh, accept: ABBREVIATED } });
		expect((await read()).status).toBe(200);
		await cut();
		try {
			await ageCopies(name, MAX_AGE + 1000);
			const first = await read();
			expect(first.status).toBe(200);
			expect(first.headers.get("x-registry-upstream")).toBe("stale");
			await backgroundSettled(name);

			const warned = await read();
			expect(warned.status).toBe(200);
			expect(warned.headers.get("warning")).toMatch(/^111 - "Revalidation Failed/);
			expect(Object.keys(((await warned.json()) as Packument).versions)).toEqual(["1.0.0"]);

			await ageCopies(name, STALE_IF_ERROR);
			const expired = await read();
			expect(expired.status).toBe(502);
			expect(((await expired.json()) as { error: string }).error).toMatch(/HTTP 502/);
		} finally {
			await restore();
		}
		const back = await read();
		expect(back.status).toBe(200);
		expect(back.headers.get("x-registry-upstream")).toBe("miss");
		expect(back.headers.get("warning")).toBeNull();
	});

	it("gives a clear error for a package never fetched while upstream is down", async () => {
		const name = uniqueName("up-never");
		await publishUpstream(name, "1.0.0");
		await cut();
		try {
			const res = await call(`/${name}`);
			expect(res.status).toBe(502);
			expect(await res.json()).toEqual({
				code: "upstreamFailed",
				error: `upstream packument of ${name} from ${UPSTREAM}: HTTP 502`,
			});
			const tarball = await call(`/${name}/-/${name}-1.0.0.tgz`);
			expect(tarball.status).toBe(502);
		} finally {
			await restore();
		}
	});

	it("gives up on an upstream that never answers after UPSTREAM_TIMEOUT_SECONDS", async () => {
		const name = uniqueName("up-hung");
		await publishUpstream(name, "1.0.0");
		await hang(`/${name}`);
		const res = await call(`/${name}`);
		expect(res.status).toBe(504);
		expect(await res.json()).toEqual({
			code: "upstreamTimeout",
			error: `upstream packument of ${name} from ${UPSTREAM}: no answer within 3 s`,
		});
	});

	it("believes a 404 from every upstream for UPSTREAM_NOT_FOUND_SECONDS", async () => {
		const name = uniqueName("up-missing");
		expect((await call(`/${name}`, { headers: fresh })).status).toBe(404);
		expect((await call(`/${name}`, { headers: fresh })).status).toBe(404);
		expect(await packumentRequests(name)).toHaveLength(1);
		expect(await packumentRequests(name, "second-upstream.test")).toHaveLength(1);

		await publishUpstream(name, "1.0.0");
		expect((await call(`/${name}`, { headers: fresh })).status).toBe(404);
		await ageCopies(name, NOT_FOUND + 1000);
		expect((await call(`/${name}`, { headers: fresh })).status).toBe(200);
		expect(await packumentRequests(name)).toHaveLength(2);
	});
});

describe("several upstreams", () => {
	it("serve each name from the first upstream that has it", async () => {
		const both = uniqueName("up-both");
		await publishUpstream(both, "1.0.0");
		await publishUpstream(both, "9.0.0", { registry: SECOND_UPSTREAM });
		const onlySecond = uniqueName("up-second");
		await publishUpstream(onlySecond, "2.0.0", { registry: SECOND_UPSTREAM });

		const first = (await (await call(`/${both}`)).json()) as Packument;
		expect(Object.keys(first.versions)).toEqual(["1.0.0"]);
		expect(await packumentRequests(both, "second-upstream.test")).toEqual([]);

		const second = (await (await call(`/${onlySecond}`)).json()) as Packument;
		expect(Object.keys(second.versions)).toEqual(["2.0.0"]);
		expect(second.versions["2.0.0"]?.dist.tarball).toBe(`http://registry.test/${onlySecond}/-/${onlySecond}-2.0.0.tgz`);
		const tarball = await call(`/${onlySecond}/-/${onlySecond}-2.0.0.tgz`);
		expect(tarball.status).toBe(200);
		await tarball.arrayBuffer();
	});

	it("never ask a later upstream for a name while an earlier one fails: it might have had it", async () => {
		const name = uniqueName("up-failover");
		await publishUpstream(name, "1.0.0", { registry: SECOND_UPSTREAM });
		await cut("upstream.test");
		try {
			expect((await call(`/${name}`)).status).toBe(502);
		} finally {
			await restore("upstream.test");
		}
		expect(await packumentRequests(name, "second-upstream.test")).toEqual([]);
	});

	it("send UPSTREAM_TOKEN to the upstream it belongs to only", async () => {
		const name = uniqueName("up-private");
		// Readable on the second upstream only with a token: this registry holds its admin's.
		await publishUpstream(name, "1.0.0", { registry: SECOND_UPSTREAM, access: "restricted" });
		expect((await fetch(`${SECOND_UPSTREAM}/${name}`)).status).toBe(404);
		const res = await call(`/${name}`);
		expect(res.status).toBe(200);
		const tarball = await call(`/${name}/-/${name}-1.0.0.tgz`);
		expect(tarball.status).toBe(200);
		await tarball.arrayBuffer();
		expect((await upstreamRequests(name, "upstream.test")).map((r) => r.authorized)).toEqual([false]);
		expect((await upstreamRequests(name, "second-upstream.test")).map((r) => r.authorized)).toEqual([
			false, // the test's own check above
			true,
			true,
		]);
	});
});

describe("a name that is this registry's", () => {
	it("is served from here only, whatever upstream publishes under it later", async () => {
		const name = uniqueName("local");
		expect((await publish(name, "1.0.0", await publisherFor(name), { access: "public" })).status).toBe(201);
		await publishUpstream(name, "9.9.9");
		const doc = (await (await call(`/${name}`, { headers: fresh })).json()) as Packument;
		expect(Object.keys(doc.versions)).toEqual(["1.0.0"]);
		expect((await call(`/${name}/-/${name}-9.9.9.tgz`)).status).toBe(404);
		expect((await call(`/${name}/9.9.9`)).status).toBe(404);
		// Asked once, before the first publish (was the name free?), never after.
		expect(await packumentRequests(name)).toHaveLength(1);
	});

	it("is never asked upstream when its scope is owned", async () => {
		const name = `@owned/${uniqueName("secret")}`;
		await publishUpstream(name, "9.9.9");
		expect((await call(`/${name}`)).status).toBe(404);
		expect((await call(`/${name.replace("/", "%2f")}`, { headers: { accept: ABBREVIATED } })).status).toBe(404);
		expect((await call(`/${name}/9.9.9`)).status).toBe(404);
		expect((await call(`/${name}/-/${name.split("/")[1]}-9.9.9.tgz`)).status).toBe(404);
		expect(await upstreamRequests(name)).toEqual([]);
		expect(await env.BLOBS.list({ prefix: `upstream/${name}/` })).toMatchObject({ objects: [] });
	});
});

describe("the read tier in front of upstream copies", () => {
	/** Requests through a read tier whose entries expire at once: every read revalidates. */
	const viaTier = async (path: string, headers: Record<string, string> = {}) => {
		// Time in workerd moves on I/O: a short wait makes the previous entry expire.
		await scheduler.wait(5);
		return router.fetch(
			new Request(`http://registry.test${path}`, { headers }),
			{ ...env, READ_CACHE_SECONDS: "0.001" },
			createExecutionContext(),
		);
	};

	it("confirms an expired entry by the copies' revision, and drops it when a refresh fails (to add the Warning)", async () => {
		const name = uniqueName("up-tier");
		await publishUpstream(name, "1.0.0");
		const read = () => viaTier(`/${name}`, { accept: ABBREVIATED });
		expect((await read()).headers.get("x-registry-cache")).toBe("miss");
		expect((await read()).headers.get("x-registry-cache")).toBe("revalidated");

		await cut();
		try {
			await ageCopies(name, MAX_AGE + 1000);
			// Still the same copies: confirmed, while the revision check starts the refresh.
			const confirmed = await read();
			expect(confirmed.headers.get("x-registry-cache")).toBe("revalidated");
			expect(confirmed.headers.get("warning")).toBeNull();
			await backgroundSettled(name);
			const warned = await read();
			expect(warned.headers.get("x-registry-cache")).toBe("miss");
			expect(warned.headers.get("warning")).toMatch(/^111 /);
			expect((await read()).headers.get("x-registry-cache")).toBe("revalidated");
		} finally {
			await restore();
		}
		expect(await packumentRequests(name)).toHaveLength(2);
	});

	it("confirms a stored tarball's location the same way", async () => {
		const name = uniqueName("up-tier-tgz");
		const published = await publishUpstream(name, "1.0.0");
		const path = `/${name}/-/${name}-1.0.0.tgz`;
		// The first download (streamed from upstream) keeps the location once stored (#25).
		const ctx = createExecutionContext();
		const first = await router.fetch(new Request(`http://registry.test${path}`), env, ctx);
		expect(new Uint8Array(await first.arrayBuffer())).toEqual(published.tgz);
		await waitOnExecutionContext(ctx);
		const second = await viaTier(path);
		expect(second.headers.get("x-registry-cache")).toBe("revalidated");
		await second.arrayBuffer();
		const third = await viaTier(path);
		expect(third.headers.get("x-registry-cache")).toBe("revalidated");
		expect(new Uint8Array(await third.arrayBuffer())).toEqual(published.tgz);
	});
});

describe("registry signatures of upstream packages", () => {
	it("lists the upstreams' keys beside this registry's, so upstream's own signatures verify here", async () => {
		const name = uniqueName("up-signed");
		const { integrity } = await publishUpstream(name, "1.0.0");
		const upstreamKeys = ((await (await fetch(`${UPSTREAM}/-/npm/v1/keys`)).json()) as { keys: ListedKey[] }).keys;
		const listed = ((await (await call("/-/npm/v1/keys")).json()) as { keys: ListedKey[] }).keys;
		// This registry's key first, then each upstream's, none twice.
		expect(listed.length).toBeGreaterThanOrEqual(2);
		expect(new Set(listed.map((k) => k.keyid)).size).toBe(listed.length);
		expect(listed.map((k) => k.keyid)).toEqual(expect.arrayContaining(upstreamKeys.map((k) => k.keyid)));

		for (const accept of [undefined, ABBREVIATED]) {
			const doc = (await (await call(`/${name}`, { headers: accept ? { accept } : {} })).json()) as {
				versions: Record<string, { dist: { integrity: string; signatures?: Signature[] } }>;
			};
			const dist = doc.versions["1.0.0"]?.dist;
			expect(dist?.integrity).toBe(integrity);
			const [signature] = dist?.signatures ?? [];
			expect(upstreamKeys.map((k) => k.keyid)).toContain(signature?.keyid);
			expect(await verifies(listed, signature as Signature, `${name}@1.0.0:${integrity}`)).toBe(true);
		}
	});

	it("keeps listing its own key while an upstream cannot be asked", async () => {
		const ownOnly = await router.fetch(
			new Request("http://registry.test/-/npm/v1/keys"),
			{ ...env, UPSTREAM_URL: "http://upstream.test" },
			createExecutionContext(),
		);
		const [own] = ((await ownOnly.json()) as { keys: ListedKey[] }).keys;
		// An upstream this isolate never asked before, off the network.
		const res = await router.fetch(
			new Request("http://registry.test/-/npm/v1/keys"),
			{ ...env, UPSTREAM_URL: "http://unreachable-upstream.test" },
			createExecutionContext(),
		);
		expect(res.status).toBe(200);
		const { keys } = (await res.json()) as { keys: ListedKey[] };
		expect(keys).toEqual([own]);
		expect(own?.expires).toBeNull();
	});
});

describe("the web page of an upstream package", () => {
	it("is marked as upstream's, with upstream's versions, tags and README, and no forms", async () => {
		const name = uniqueName("up-page");
		await publishUpstream(name, "1.0.0", {
			files: { "README.md": "# Hello from upstream\n\n<script>window.x = 1</script>\n" },
		});
		await publishUpstream(name, "1.1.0", { tag: "next" });
		const res = await call(`/package/${name}`);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
		const page = await res.text();
		expect(page).toContain('<span class="tag upstream">upstream</span>');
		expect(page).toContain("This package comes from the upstream registry");
		expect(page).toMatch(/<th scope="row"><a [^>]*>1\.1\.0<\/a><\/th>\s*<td>.*<\/td>\s*<td>next<\/td>/);
		expect(page).toContain(`<code>npm install ${name}</code>`);
		expect(page).toContain('<div class="readme"><h1>Hello from upstream</h1>');
		expect(page).not.toContain("<script>window.x");
		expect(page).not.toContain("/rollback");
		// A version of its own, and one upstream does not have.
		expect(await (await call(`/package/${name}/v/1.1.0`)).text()).toMatch(/<span class="version">1\.1\.0<\/span>/);
		expect((await call(`/package/${name}/v/9.9.9`)).status).toBe(404);
		// A name no registry has is the usual 404 page.
		expect((await call(`/package/${uniqueName("nowhere")}`)).status).toBe(404);
	});

	it("is never shown for a name this registry owns", async () => {
		const name = uniqueName("owned-page");
		await publishUpstream(`@owned/${name}`, "1.0.0");
		expect((await call(`/package/@owned/${name}`)).status).toBe(404);
	});
});
