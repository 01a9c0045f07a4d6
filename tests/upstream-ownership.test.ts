import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../schema/config";
import { runPackageAlarm } from "./helpers/package-object";
import {
	ADMIN,
	call,
	type Packument,
	publish,
	publishBody,
	publisherFor,
	readPackument,
	uniqueName,
} from "./helpers/registry";
import { gzipTar } from "./helpers/tarball";
import { ABBREVIATED, cut, publishUpstream, restore, THIRD_UPSTREAM, upstreamRequests } from "./helpers/upstream";

// A name is this registry's or the upstream's, never both: what is published or claimed here is
// never asked upstream, nothing upstream has can be published over or changed here, and an
// admin's claim is the one way to take a name upstream has.

const json = (body: unknown) => JSON.stringify(body);
const claim = (name: string, token: string | null = ADMIN) =>
	call("/-/admin/claims", { method: "POST", token, body: json({ name }) });
const errorOf = async (res: Response) => (await res.json()) as { error: string; code: string };

describe("dependency confusion", () => {
	it("installs only what this registry has under a name it owns or claimed, whatever upstream publishes", async () => {
		const secret = `@owned/${uniqueName("secret")}`;
		const shared = uniqueName("shared-name");
		await publishUpstream(secret, "9.9.9");
		await publishUpstream(shared, "5.0.0");

		const claimed = await claim(shared);
		expect(claimed.status).toBe(201);
		expect(await claimed.json()).toMatchObject({ name: shared, claimedBy: "admin" });
		expect((await claim(shared)).status).toBe(200);
		expect((await publish(shared, "1.0.0", await publisherFor(shared), { access: "public" })).status).toBe(201);
		expect((await publish(secret, "1.0.0", await publisherFor("@owned"), { access: "public" })).status).toBe(201);

		for (const name of [shared, secret]) {
			for (const accept of [ABBREVIATED, "application/json"]) {
				const doc = (await (await call(`/${name}`, { headers: { accept } })).json()) as Packument;
				expect(doc["dist-tags"]).toEqual({ latest: "1.0.0" });
				expect(Object.keys(doc.versions)).toEqual(["1.0.0"]);
			}
			expect((await call(`/${name}/latest`)).status).toBe(200);
			expect((await call(`/${name}/^5.0.0`)).status).toBe(404);
		}
		expect((await call(`/${shared}/-/${shared}-5.0.0.tgz`)).status).toBe(404);
		// Upstream was never asked about either: the scope is owned, the claim came first.
		expect(await upstreamRequests(secret)).toEqual([]);
		expect(await upstreamRequests(shared)).toEqual([]);
	});

	it("refuses the first publish of a name upstream has, until an admin claims it", async () => {
		const name = uniqueName("taken");
		await publishUpstream(name, "5.0.0");
		const token = await publisherFor(name);
		const refused = await publish(name, "1.0.0", token);
		expect(refused.status).toBe(409);
		expect(await errorOf(refused)).toEqual({
			code: "upstreamName",
			error: `${name} exists in the upstream registry: publishing it here would shadow it for every install; an admin can claim the name first (POST /-/admin/claims)`,
		});
		expect((await call(`/${name}`)).status).toBe(200);
		expect(Object.keys((await readPackument(name, null)).versions)).toEqual(["5.0.0"]);

		expect((await claim(name)).status).toBe(201);
		expect((await publish(name, "1.0.0", token, { access: "public" })).status).toBe(201);
		expect(Object.keys((await readPackument(name, null)).versions)).toEqual(["1.0.0"]);
	});

	it("refuses the first upload of a name upstream has", async () => {
		const name = uniqueName("taken-upload");
		await publishUpstream(name, "5.0.0");
		const bundle = await gzipTar({ "index.js": "export {};\n" }, null);
		const res = await call(`/packages/${name}/upload`, {
			method: "POST",
			token: await publisherFor(name),
			body: bundle,
		});
		expect(res.status).toBe(409);
		expect((await errorOf(res)).code).toBe("upstreamName");
	});

	it("refuses to publish a new name while upstream cannot be asked whether it has it", async () => {
		const name = uniqueName("unknown");
		const token = await publisherFor(name);
		await cut();
		try {
			const res = await publish(name, "1.0.0", token);
			expect(res.status).toBe(503);
			expect(await errorOf(res)).toEqual({
				code: "upstreamUnavailable",
				error: `cannot publish the new name ${name} now: the upstream registry cannot be asked whether it has it; try again later`,
			});
			// A scope this registry owns never needs upstream's word.
			expect((await publish(`@owned/${name}`, "1.0.0", await publisherFor("@owned"))).status).toBe(201);
		} finally {
			await restore();
		}
		expect((await publish(name, "1.0.0", token)).status).toBe(201);
	});

	it("lets ALLOW_PUBLISH_WHEN_UPSTREAM_DOWN publish new names without upstream's word", () => {
		expect(parseConfig({}).publishWhenUpstreamDown).toBe(false);
		expect(parseConfig({ ALLOW_PUBLISH_WHEN_UPSTREAM_DOWN: "true" }).publishWhenUpstreamDown).toBe(true);
	});
});

describe("an upstream package", () => {
	it("can never be published to, tagged, deprecated, unpublished, moved or changed through this registry", async () => {
		const name = uniqueName("upstream-only");
		await publishUpstream(name, "1.0.0");
		expect((await call(`/${name}`)).status).toBe(200);
		const readOnly = async (res: Response) => {
			expect(res.status).toBe(403);
			expect(await errorOf(res)).toEqual({
				code: "upstreamReadOnly",
				error: `${name} comes from the upstream registry: it cannot be published to, tagged, deprecated or changed through this registry`,
			});
		};
		const { body } = await publishBody(name, "2.0.0");
		const published = await call(`/${name}`, { method: "PUT", token: ADMIN, body: json(body) });
		expect(published.status).toBe(409);
		await readOnly(
			await call(`/-/package/${name}/dist-tags/beta`, { method: "PUT", token: ADMIN, body: json("1.0.0") }),
		);
		await readOnly(
			await call(`/${name}`, {
				method: "PUT",
				token: ADMIN,
				body: json({ _id: name, name, versions: { "1.0.0": { name, version: "1.0.0", deprecated: "no" } } }),
			}),
		);
		await readOnly(await call(`/${name}/-rev/1-abc`, { method: "DELETE", token: ADMIN }));
		await readOnly(
			await call(`/packages/${name}/channels/stable`, {
				method: "POST",
				token: ADMIN,
				body: json({ version: "1.0.0" }),
			}),
		);
		await readOnly(
			await call(`/-/package/${name}/access`, { method: "POST", token: ADMIN, body: json({ access: "public" }) }),
		);
		const doc = (await (await call(`/${name}`, { headers: { "cache-control": "no-cache" } })).json()) as Packument;
		expect(doc["dist-tags"]).toEqual({ latest: "1.0.0" });
		expect(doc.versions["1.0.0"]?.deprecated).toBeUndefined();
	});
});

describe("claims", () => {
	it("are for admins, audited, and drop what was cached of upstream's package", async () => {
		const name = uniqueName("claimed");
		await publishUpstream(name, "1.0.0");
		const tarball = await call(`/${name}/-/${name}-1.0.0.tgz`);
		expect(tarball.status).toBe(200);
		await tarball.arrayBuffer();
		expect((await env.BLOBS.list({ prefix: `upstream/${name}/` })).objects).toHaveLength(1);

		expect((await claim(name, null)).status).toBe(401);
		expect((await claim(name, await publisherFor(name))).status).toBe(403);
		expect((await claim("Not A Name")).status).toBe(400);
		const before = (await upstreamRequests(name)).length;
		expect((await claim(name)).status).toBe(201);

		expect((await env.BLOBS.list({ prefix: `upstream/${name}/` })).objects).toEqual([]);
		expect((await call(`/${name}`)).status).toBe(404);
		expect((await call(`/${name}/-/${name}-1.0.0.tgz`)).status).toBe(404);
		expect((await upstreamRequests(name)).length).toBe(before);

		const audit = await call(`/-/admin/audit?package=${name}`, { token: ADMIN });
		expect(audit.status).toBe(200);
		const { entries } = (await audit.json()) as { entries: { action: string; actor: string; target: string }[] };
		expect(entries).toMatchObject([{ action: "claim", actor: "admin", target: name }]);
	});
});

describe("GET /-/admin/upstream", () => {
	type Figures = {
		url: string;
		token: boolean;
		cache: { documents: number; documentBytes: number; tarballs: number; tarballBytes: number; bytes: number };
		requests: {
			documents: { hits: number; misses: number };
			tarballs: { hits: number; misses: number };
			hitRatio: number | null;
		};
		failures: number;
		lastError: { message: string; at: string; package: string } | null;
	};
	const status = async () => {
		const res = await call("/-/admin/upstream", { token: ADMIN });
		expect(res.status).toBe(200);
		return (await res.json()) as { enabled: boolean; ownedScopes: string[]; upstreams: Figures[] };
	};

	it("reports per upstream the cache size, hit ratio, failures and last error", async () => {
		expect((await call("/-/admin/upstream", { token: await publisherFor("x") })).status).toBe(403);
		const before = await status();
		expect(before).toMatchObject({ enabled: true, ownedScopes: ["@owned"] });
		expect(before.upstreams.map((u) => [u.url, u.token])).toEqual([
			["http://upstream.test", false],
			["http://second-upstream.test", true],
			[THIRD_UPSTREAM, false],
		]);
		const third = () => before.upstreams[2] as Figures;
		expect(third().requests.hitRatio).toBeNull();

		const name = uniqueName("figures");
		const published = await publishUpstream(name, "1.0.0", { registry: THIRD_UPSTREAM });
		const noCache = { "cache-control": "no-cache", accept: ABBREVIATED };
		expect((await call(`/${name}`, { headers: noCache })).status).toBe(200);
		expect((await call(`/${name}`, { headers: noCache })).status).toBe(200);
		expect((await call(`/${name}`, { headers: noCache })).status).toBe(200);
		for (let i = 0; i < 2; i++) {
			const res = await call(`/${name}/-/${name}-1.0.0.tgz`, { headers: noCache });
			expect(res.status).toBe(200);
			await res.arrayBuffer();
		}
		const failing = uniqueName("figures-down");
		await cut("third-upstream.test");
		try {
			expect((await call(`/${failing}`)).status).toBe(502);
		} finally {
			await restore("third-upstream.test");
		}
		await runPackageAlarm(name);
		await runPackageAlarm(failing);

		const after = (await status()).upstreams[2] as Figures;
		const docBytes = after.cache.documentBytes - third().cache.documentBytes;
		expect(docBytes).toBeGreaterThan(0);
		expect(after.cache).toEqual({
			documents: third().cache.documents + 1,
			documentBytes: third().cache.documentBytes + docBytes,
			tarballs: third().cache.tarballs + 1,
			tarballBytes: third().cache.tarballBytes + published.tgz.byteLength,
			bytes: third().cache.bytes + docBytes + published.tgz.byteLength,
		});
		expect(after.requests).toEqual({
			documents: { hits: third().requests.documents.hits + 2, misses: third().requests.documents.misses + 1 },
			tarballs: { hits: third().requests.tarballs.hits + 1, misses: third().requests.tarballs.misses + 1 },
			hitRatio: expect.any(Number),
		});
		expect(after.requests.hitRatio).toBeCloseTo(
			(after.requests.documents.hits + after.requests.tarballs.hits) /
				(after.requests.documents.hits +
					after.requests.documents.misses +
					after.requests.tarballs.hits +
					after.requests.tarballs.misses),
			2,
		);
		expect(after.failures).toBe(third().failures + 1);
		expect(after.lastError).toMatchObject({ package: failing, message: expect.stringMatching(/HTTP 502/) });
	});
});
