import { createExecutionContext, env, evictDurableObject, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { parsePeriod } from "../worker/downloads/period";
import { sendDownloadCounts } from "../worker/read-tier/downloads";
import { router } from "../worker/router";
import { runPackageAlarm } from "./helpers/package-object";
import { call, createToken, publish, publisherFor, uniqueName } from "./helpers/registry";

// Download counts: per day and version, counted in memory, flushed on the alarm, served in the
// shapes of npm's downloads API. Downloads served from the read tier reach the object in the
// Worker's batch, which `download` sends at once; figures are read as fresh copies, since the
// tier serves them up to READ_CACHE_SECONDS old (tests/read-tier.test.ts covers that).

const today = new Date().toISOString().slice(0, 10);

async function download(name: string, version: string, times: number, token: string | null = null) {
	const basename = name.slice(name.indexOf("/") + 1);
	for (let i = 0; i < times; i++) {
		const res = await call(`/${name}/-/${basename}-${version}.tgz`, { token });
		expect(res.status).toBe(200);
		await res.arrayBuffer();
	}
	await sendDownloadCounts(env);
}

/** Download figures as a fresh copy (`Cache-Control: no-cache` bypasses the read tier). */
function figures(path: string, token: string | null = null) {
	return call(path, { token, headers: { "cache-control": "no-cache" } });
}

async function publicPackage(versions: string[]) {
	const name = uniqueName("dl");
	const token = await publisherFor(name);
	for (const version of versions) await publish(name, version, token, { access: "public" });
	return { name, token };
}

describe("download counts", () => {
	it("counts every tarball download per day and per version", async () => {
		const { name } = await publicPackage(["1.0.0", "1.1.0"]);
		await download(name, "1.0.0", 3);
		await download(name, "1.1.0", 2);

		expect(await (await figures(`/-/downloads/point/last-day/${name}`)).json()).toEqual({
			downloads: 5,
			start: today,
			end: today,
			package: name,
		});
		const range = (await (await figures(`/-/downloads/range/last-week/${name}`)).json()) as {
			downloads: { day: string; downloads: number }[];
			start: string;
			end: string;
		};
		expect(range.downloads).toHaveLength(7);
		expect(range.downloads.at(-1)).toEqual({ day: today, downloads: 5 });
		expect(range.downloads.slice(0, 6).every((d) => d.downloads === 0)).toBe(true);
		expect(range.end).toBe(today);
		const versions = (await (await figures(`/-/downloads/versions/${name}/last-week`)).json()) as {
			package: string;
			downloads: Record<string, number>;
		};
		expect(versions).toMatchObject({ package: name, downloads: { "1.0.0": 3, "1.1.0": 2 } });
		const month = await (await figures(`/-/downloads/point/last-month/${name}`)).json();
		expect(month).toMatchObject({ downloads: 5 });
	});

	it("buffers counts in memory and writes them in bulk on the alarm", async () => {
		const { name } = await publicPackage(["1.0.0"]);
		const stub = env.PACKAGES.get(env.PACKAGES.idFromName(name));
		await runPackageAlarm(name); // the publish's index delivery
		const lastDay = async () =>
			((await (await figures(`/-/downloads/point/last-day/${name}`)).json()) as { downloads: number }).downloads;
		// What an eviction leaves is what the object wrote: the in-memory buffer does not survive it.
		const stored = async () => {
			await evictDurableObject(stub);
			return lastDay();
		};
		await download(name, "1.0.0", 2);
		expect(await stored()).toBe(0);
		await download(name, "1.0.0", 4);
		expect(await lastDay()).toBe(4);
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		expect(await stored()).toBe(4);
		await download(name, "1.0.0", 1);
		await runDurableObjectAlarm(stub);
		expect(await stored()).toBe(5);
		expect(await (await figures(`/-/downloads/versions/${name}/last-day`)).json()).toMatchObject({
			downloads: { "1.0.0": 5 },
		});
	});

	it("does not count HEAD requests, nor anything when COUNT_DOWNLOADS is false", async () => {
		const { name } = await publicPackage(["1.0.0"]);
		await call(`/${name}/-/${name}-1.0.0.tgz`, { method: "HEAD" });
		const off = await router.fetch(
			new Request(`http://registry.test/${name}/-/${name}-1.0.0.tgz`),
			{ ...env, COUNT_DOWNLOADS: "false" },
			createExecutionContext(),
		);
		expect(off.status).toBe(200);
		await off.arrayBuffer();
		expect(await (await figures(`/-/downloads/point/last-day/${name}`)).json()).toMatchObject({ downloads: 0 });
	});

	it("serves scoped packages and follows the package's read rules", async () => {
		const scope = `@${uniqueName("s")}`;
		const name = `${scope}/private`;
		const token = await publisherFor(scope);
		await publish(name, "1.0.0", token);
		await download(name, "1.0.0", 2, token);
		expect((await figures(`/-/downloads/point/last-week/${name}`)).status).toBe(404);
		const customer = (await createToken([{ package: name, permissions: ["read"] }], "customer")).token;
		const res = await figures(`/-/downloads/point/last-week/${scope}%2fprivate`, customer);
		expect(await res.json()).toMatchObject({ downloads: 2, package: name });
		expect((await figures(`/-/downloads/point/last-week/${uniqueName()}`)).status).toBe(404);
	});

	it("counts only downloads that were served", async () => {
		const scope = `@${uniqueName("s")}`;
		const name = `${scope}/counted`;
		const token = await publisherFor(scope);
		await publish(name, "1.0.0", token);
		const tarball = `/${name}/-/counted-1.0.0.tgz`;
		expect((await call(tarball)).status).toBe(404);
		expect(
			(await call(tarball, { token: (await createToken([{ scope: "@other", permissions: ["read"] }])).token })).status,
		).toBe(404);
		expect((await call(tarball, { token: `dev_${"0".repeat(64)}` })).status).toBe(401);
		await download(name, "1.0.0", 1, token);
		const res = await figures(`/-/downloads/point/last-day/${name}`, token);
		expect(await res.json()).toMatchObject({ downloads: 1 });
	});

	it("refuses malformed periods with 400", async () => {
		const { name } = await publicPackage(["1.0.0"]);
		for (const period of ["last-year", "2026-13-01", "2026-02-30:2026-03-01", "2026-03-02:2026-03-01", "yesterday"]) {
			const res = await figures(`/-/downloads/point/${period}/${name}`);
			expect(res.status, period).toBe(400);
			expect(((await res.json()) as { error: string }).error).toMatch(/invalid period/);
		}
		const explicit = await figures(`/-/downloads/range/2026-01-01:2026-01-03/${name}`);
		expect(((await explicit.json()) as { downloads: unknown[] }).downloads).toEqual([
			{ day: "2026-01-01", downloads: 0 },
			{ day: "2026-01-02", downloads: 0 },
			{ day: "2026-01-03", downloads: 0 },
		]);
	});
});

describe("download periods", () => {
	const now = new Date("2026-03-10T15:00:00Z");
	it.each([
		["last-day", { start: "2026-03-10", end: "2026-03-10" }],
		["last-week", { start: "2026-03-04", end: "2026-03-10" }],
		["last-month", { start: "2026-02-09", end: "2026-03-10" }],
		["2026-01-01:2026-01-31", { start: "2026-01-01", end: "2026-01-31" }],
		["2024-02-29", { start: "2024-02-29", end: "2024-02-29" }],
	])("reads %s", (raw, expected) => {
		expect(parsePeriod(raw, now)).toEqual(expected);
	});

	it.each([
		"",
		"last-decade",
		"2026-1-01",
		"2025-02-29",
		"2026-03-01:2026-02-01",
		"2020-01-01:2026-01-01",
		"2026-01-01:",
		"2026-01-01:2026-01-02:2026-01-03",
	])("refuses %j", (raw) => {
		expect(() => parsePeriod(raw, now)).toThrow(/invalid period/);
	});
});
