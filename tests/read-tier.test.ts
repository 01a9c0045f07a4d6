import { createExecutionContext, env, runDurableObjectAlarm, SELF, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, expectTypeOf, it, vi } from "vitest";
import { sendDownloadCounts } from "../worker/read-tier/downloads";
import { memoryForgetPackage } from "../worker/read-tier/memory";
import { forgetPackage, type TierRead, throughReadTier } from "../worker/read-tier/tier";
import { router } from "../worker/router";
import { ADMIN, ALL, call, createToken, publish, publisherFor, readPackument, uniqueName } from "./helpers/registry";

// The read tier (issue #10): hot reads answered from this isolate's memory or the colo's cache
// without asking the package object, writes visible at once where they were made, private
// content never shared, and every answer saying how it was found (x-registry-cache).

const json = (body: unknown) => JSON.stringify(body);
const outcome = (res: Response) => res.headers.get("x-registry-cache");

type Metrics = { objectCalls: Record<string, number>; reads: Record<string, Record<string, number>> };
async function metrics(): Promise<Metrics> {
	return (await (await call("/-/admin/metrics", { token: ADMIN })).json()) as Metrics;
}

async function publicPackage(prefix = "tier") {
	const name = uniqueName(prefix);
	const token = await publisherFor(name);
	expect((await publish(name, "1.0.0", token, { access: "public" })).status).toBe(201);
	return { name, token };
}

describe("hot reads", () => {
	it("serves a second read as a hit, with the same body and headers, and 304 for its ETag", async () => {
		const { name } = await publicPackage();
		const first = await call(`/${name}`);
		expect(outcome(first)).toBe("miss");
		const second = await call(`/${name}`);
		expect(outcome(second)).toBe("hit");
		expect(await second.text()).toBe(await first.text());
		const headers = (res: Response) =>
			[...res.headers].filter(([k]) => k !== "x-registry-cache" && k !== "date").sort();
		expect(headers(second)).toEqual(headers(first));
		const etag = second.headers.get("etag") ?? "";
		const conditional = await call(`/${name}`, { headers: { "if-none-match": etag } });
		expect(conditional.status).toBe(304);
		expect(outcome(conditional)).toBe("hit");
	});

	it("keeps the abbreviated and the full packument apart", async () => {
		const { name } = await publicPackage();
		const abbreviated = { accept: "application/vnd.npm.install-v1+json" };
		await call(`/${name}`);
		const short = await call(`/${name}`, { headers: abbreviated });
		expect(outcome(short)).toBe("miss");
		expect(((await short.json()) as Record<string, unknown>).time).toBeUndefined();
		expect(outcome(await call(`/${name}`, { headers: abbreviated }))).toBe("hit");
	});

	it("asks the object at most once for a thousand hot reads of a packument, a channel and a tarball", async () => {
		const { name, token } = await publicPackage();
		await call(`/packages/${name}/channels/stable`, { method: "POST", token, body: json({ version: "1.0.0" }) });
		const paths = [`/${name}`, `/packages/${name}/channels/stable`, `/${name}/-/${name}-1.0.0.tgz`];
		for (const path of paths) await (await call(path)).arrayBuffer();
		const before = (await metrics()).objectCalls.package ?? 0;
		// The clock stands still: on a loaded machine a thousand reads may take longer than
		// READ_CACHE_SECONDS, and what is measured is the object calls, not the machine's speed.
		vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
		try {
			for (let i = 0; i < 1000; i++) {
				const res = await call(paths[i % paths.length] ?? "");
				expect(outcome(res)).toBe("hit");
				await res.arrayBuffer();
			}
		} finally {
			vi.useRealTimers();
		}
		expect(((await metrics()).objectCalls.package ?? 0) - before).toBeLessThanOrEqual(1);
		await sendDownloadCounts(env);
	});

	it("never keeps an answer produced before a write under the generation after it", async () => {
		const owner = uniqueName("race");
		const ctx = createExecutionContext();
		const read = (body: string, during: () => Promise<void> = async () => {}) =>
			throughReadTier({
				request: new Request("http://registry.test/race"),
				env,
				ctx,
				route: "race",
				owner,
				key: `race:${owner}`,
				shareable: () => true,
				admits: () => true,
				produce: async () => {
					await during();
					return { response: new Response(body), access: "public", rev: body };
				},
			});
		// A write lands while the object answers: the answer was made before it.
		expect(await (await read("before the write", () => forgetPackage(env, owner))).text()).toBe("before the write");
		await waitOnExecutionContext(ctx);
		memoryForgetPackage(owner); // another isolate of the colo
		const next = await read("after the write");
		expect(outcome(next)).toBe("miss");
		expect(await next.text()).toBe("after the write");
	});

	it("serves a kept entry only to callers it admits, and asks the object for anyone else", async () => {
		const owner = uniqueName("admits");
		const ctx = createExecutionContext();
		let produced = 0;
		const read = (admits: TierRead["admits"]) =>
			throughReadTier({
				request: new Request("http://registry.test/admits"),
				env,
				ctx,
				route: "admits",
				owner,
				key: `admits:${owner}`,
				shareable: () => false,
				admits,
				produce: async () => {
					produced += 1;
					return { response: new Response("kept"), access: "restricted", rev: "1" };
				},
			});
		expect(outcome(await read(() => true))).toBe("miss");
		expect(outcome(await read(() => true))).toBe("hit");
		expect(produced).toBe(1);
		// Refused, the caller takes the path of a key with nothing kept: the object is asked.
		expect(outcome(await read(() => false))).toBe("miss");
		expect(produced).toBe(2);
		// The check is synchronous by its type: an async one, whose refusal nobody would wait for, does not compile.
		expectTypeOf<() => Promise<boolean>>().not.toExtend<TierRead["admits"]>();
		await waitOnExecutionContext(ctx);
	});

	it("serves another isolate of the colo from the shared cache, stored after the first answer", async () => {
		const { name } = await publicPackage();
		// The colo's cache is written after the answer (waitUntil): wait for that work, as the platform does.
		const ctx = createExecutionContext();
		const first = await (await router.fetch(new Request(`http://registry.test/${name}`), env, ctx)).text();
		await waitOnExecutionContext(ctx);
		memoryForgetPackage(name); // as if this were another isolate
		const before = (await metrics()).objectCalls.package ?? 0;
		const shared = await call(`/${name}`);
		expect(outcome(shared)).toBe("hit");
		expect(await shared.text()).toBe(first);
		expect((await metrics()).objectCalls.package ?? 0).toBe(before);
	});

	it("neither stores into nor reads the colo's cache with COLO_CACHE=false (npm start's one isolate, #25)", async () => {
		const { name } = await publicPackage();
		const read = async (vars: Record<string, string>) => {
			const ctx = createExecutionContext();
			const res = await router.fetch(new Request(`http://registry.test/${name}`), { ...env, ...vars }, ctx);
			await res.arrayBuffer();
			await waitOnExecutionContext(ctx);
			memoryForgetPackage(name); // each read as if in another isolate of the colo
			return outcome(res);
		};
		// Nothing was stored for the next isolate, which asks the object (and stores for those after it).
		expect(await read({ COLO_CACHE: "false" })).toBe("miss");
		expect(await read({})).toBe("miss");
		expect(await read({})).toBe("hit");
		// What the colo's cache holds is not looked at either.
		expect(await read({ COLO_CACHE: "false" })).toBe("miss");
	});
});

describe("writes are visible at once where they are made", () => {
	it("shows a publish, a dist-tag move, a deprecation, a rollback, an access change and an unpublish on the next read", async () => {
		const { name, token } = await publicPackage();
		const tags = async () =>
			((await (await call(`/${name}`)).json()) as { "dist-tags": Record<string, string> })["dist-tags"];
		expect(await tags()).toEqual({ latest: "1.0.0" });
		expect((await publish(name, "1.1.0", token)).status).toBe(201);
		expect(await tags()).toEqual({ latest: "1.1.0" });

		await call(`/-/package/${name}/dist-tags/beta`, { method: "PUT", token, body: '"1.0.0"' });
		expect(await tags()).toEqual({ latest: "1.1.0", beta: "1.0.0" });

		const doc = await readPackument(name, token);
		const deprecated = structuredClone(doc);
		(deprecated.versions["1.0.0"] as { deprecated?: string }).deprecated = "old";
		await call(`/${name}`, { method: "PUT", token, body: json(deprecated) });
		const version = (await (await call(`/${name}/1.0.0`)).json()) as { deprecated?: string };
		expect(version.deprecated).toBe("old");

		const channel = async () =>
			((await (await call(`/packages/${name}/channels/stable`)).json()) as { version?: string }).version;
		await call(`/packages/${name}/channels/stable`, { method: "POST", token, body: json({ version: "1.0.0" }) });
		await call(`/packages/${name}/channels/stable`, { method: "POST", token, body: json({ version: "1.1.0" }) });
		expect(await channel()).toBe("1.1.0");
		await call(`/packages/${name}/channels/stable/rollback`, { method: "POST", token });
		expect(await channel()).toBe("1.0.0");

		const scoped = `@${uniqueName("tiers").replaceAll("-", "")}/p`;
		const owner = await publisherFor(scoped);
		await publish(scoped, "1.0.0", owner, { access: "public" });
		expect((await call(`/${scoped}`)).status).toBe(200);
		await call(`/-/package/${scoped}/access`, { method: "POST", token: owner, body: json({ access: "restricted" }) });
		expect((await call(`/${scoped}`)).status).toBe(404);

		const { _rev } = await readPackument(name, token);
		// It has a stable channel: unpublishing the whole package needs force (#13).
		await call(`/${name}/-rev/${_rev}?force=true`, { method: "DELETE", token });
		expect((await call(`/${name}`)).status).toBe(404);
	});

	it("bypasses the tier for a client that asks for a fresh copy, and refreshes it", async () => {
		const { name } = await publicPackage();
		await call(`/${name}`);
		expect(outcome(await call(`/${name}`, { headers: { "cache-control": "no-cache" } }))).toBe("bypass");
		expect(outcome(await call(`/${name}`, { headers: { pragma: "no-cache" } }))).toBe("bypass");
		expect(outcome(await call(`/${name}`))).toBe("hit");
	});
});

describe("private stays private", () => {
	it("never serves a cached restricted document to anyone who may not read it", async () => {
		const scope = `@${uniqueName("priv").replaceAll("-", "")}`;
		const name = `${scope}/secret`;
		const owner = await createToken([{ scope, permissions: ALL }]);
		await publish(name, "1.0.0", owner.token);
		const reader = await createToken([{ package: name, permissions: ["read"] }], "customer");
		const first = await call(`/${name}`, { token: reader.token });
		const second = await call(`/${name}`, { token: reader.token });
		expect([first.status, outcome(second)]).toEqual([200, "hit"]);

		const missing = await call(`/${scope}/never-published`);
		const anonymous = await call(`/${name}`);
		expect(anonymous.status).toBe(404);
		expect(await anonymous.text()).toBe(await missing.text());
		expect(anonymous.headers.get("x-registry-cache")).toBeNull();
		const stranger = await createToken([{ package: "elsewhere", permissions: ["read"] }], "customer");
		expect((await call(`/${name}`, { token: stranger.token })).status).toBe(404);

		await call(`/-/admin/tokens/${reader.id}`, { method: "DELETE", token: ADMIN });
		expect((await call(`/${name}`, { token: reader.token })).status).toBe(401);
		// Nothing of it went to the colo's shared cache.
		memoryForgetPackage(name);
		expect(outcome(await call(`/${name}`, { token: owner.token }))).toBe("miss");
	});

	it("keys cached bodies by the registry's base URL, so a forged Host cannot poison them", async () => {
		const { name } = await publicPackage();
		const forged = await SELF.fetch(`http://evil.example/${name}`);
		expect(await forged.text()).toContain("http://evil.example/");
		const honest = await call(`/${name}`);
		const text = await honest.text();
		expect(text).not.toContain("evil.example");
		expect(text).toContain(`http://registry.test/${name}/-/`);
	});
});

describe("READ_CACHE_SECONDS=0", () => {
	it("sends every read to the object", async () => {
		const { name } = await publicPackage();
		const off = { ...env, READ_CACHE_SECONDS: "0" };
		const read = () => router.fetch(new Request(`http://registry.test/${name}`), off, createExecutionContext());
		const before = (await metrics()).objectCalls.package ?? 0;
		for (let i = 0; i < 5; i++) expect(outcome(await read())).toBe("bypass");
		expect(((await metrics()).objectCalls.package ?? 0) - before).toBe(5);
	});
});

describe("downloads from the tier", () => {
	it("counts tarballs served from cache once the batch is sent", async () => {
		const { name, token } = await publicPackage();
		const tarball = `/${name}/-/${name}-1.0.0.tgz`;
		for (let i = 0; i < 4; i++) await (await call(tarball)).arrayBuffer();
		await sendDownloadCounts(env);
		await runDurableObjectAlarm(env.PACKAGES.get(env.PACKAGES.idFromName(name)));
		const res = await call(`/-/downloads/point/last-day/${name}`, { token, headers: { "cache-control": "no-cache" } });
		expect(((await res.json()) as { downloads: number }).downloads).toBe(4);
		expect((await metrics()).reads.tarball?.hit).toBeGreaterThan(0);
	});
});
