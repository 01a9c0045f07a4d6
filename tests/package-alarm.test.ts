import { env, evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { applyMigrations } from "../durable-objects/migrations";
import { PackageRecord } from "../durable-objects/package/package-record";
import { searchDocument } from "../durable-objects/package/search-document";
import { SearchOutbox } from "../durable-objects/package/search-outbox";
import { packageMetadataMigrations } from "../schema/package/migrations";
import type { PackageRow } from "../schema/package/rows";
import { actorNamed, indexed, packageStub, publishInput, runPackageAlarm } from "./helpers/package-object";
import { versionRow } from "./helpers/package-rows";
import { uniqueName } from "./helpers/registry";

// The package object's alarm (durable-objects/package/package-metadata.ts `alarm`): buffered
// download counts written in bulk, and the search index told about every committed change, with
// backoff when it cannot be reached. Alarms are run by the test, never waited for.

const alice = actorNamed("alice");
const today = () => new Date().toISOString().slice(0, 10);

function value<T>(result: { ok: true; value: T } | { ok: false; code: string; message: string }): T {
	if (!result.ok) throw new Error(`refused: ${result.code} ${result.message}`);
	return result.value;
}

async function publishedPackage(versions: string[] = ["1.0.0"]) {
	const name = uniqueName("alarm");
	const stub = packageStub(name);
	for (const version of versions) value(await stub.publish(publishInput(name, version)));
	// The publish's own alarm (index delivery) runs now, so that it cannot flush what a test counts next.
	await runPackageAlarm(name);
	return { name, stub };
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("download counts", () => {
	it("counts in memory and writes the counts on the alarm: only written counts survive an eviction", async () => {
		const { stub } = await publishedPackage();
		const day = today();
		const downloads = async () => value(await stub.downloadCounts(day, day));
		const download = async (times: number) => {
			for (let i = 0; i < times; i++) value(await stub.tarball("1.0.0", { count: true, mayReadRestricted: false }));
		};

		await download(3);
		expect((await downloads()).perVersion).toEqual({ "1.0.0": 3 });
		await evictDurableObject(stub);
		expect(await downloads()).toEqual({ perDay: [], perVersion: {}, access: "public", rev: expect.any(String) });

		await download(4);
		// The flush is set DOWNLOAD_FLUSH_SECONDS ahead, so it is still pending here.
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		await evictDurableObject(stub);
		expect(await downloads()).toEqual({
			perDay: [{ day, downloads: 4 }],
			perVersion: { "1.0.0": 4 },
			access: "public",
			rev: expect.any(String),
		});

		await download(1);
		expect((await downloads()).perDay).toEqual([{ day, downloads: 5 }]);
		expect(await runDurableObjectAlarm(stub)).toBe(true);
		await evictDurableObject(stub);
		expect((await downloads()).perDay).toEqual([{ day, downloads: 5 }]);
	});
});

describe("the search index", () => {
	it("hears every committed change: publish, new version, deprecation, tag move, unpublish", async () => {
		const { name, stub } = await publishedPackage();
		expect(await indexed(name)).toMatchObject({ name, version: "1.0.0", description: `${name} at 1.0.0` });

		value(await stub.publish(publishInput(name, "2.0.0")));
		await runPackageAlarm(name);
		expect(await indexed(name)).toMatchObject({ version: "2.0.0", description: `${name} at 2.0.0`, deprecated: null });

		value(
			await stub.update({
				rev: null,
				versions: { "2.0.0": { deprecated: "use 3" } },
				removeMissing: false,
				force: false,
				actor: alice,
			}),
		);
		await runPackageAlarm(name);
		expect(await indexed(name)).toMatchObject({ version: "2.0.0", deprecated: "use 3" });

		value(await stub.moveChannel("latest", { version: "1.0.0" }, alice));
		await runPackageAlarm(name);
		expect(await indexed(name)).toMatchObject({ version: "1.0.0", deprecated: null });

		value(await stub.unpublishPackage(value(await stub.info()).rev, false, alice));
		await runPackageAlarm(name);
		expect(await indexed(name)).toBeUndefined();
	});

	it("hears the weekly download total once the alarm has written the counts", async () => {
		const { name, stub } = await publishedPackage();
		for (let i = 0; i < 5; i++) await stub.tarball("1.0.0", { count: true, mayReadRestricted: false });
		expect((await indexed(name))?.weeklyDownloads).toBe(0);
		await runPackageAlarm(name);
		const hit = await indexed(name);
		expect(hit?.weeklyDownloads).toBe(5);
		expect(hit?.popularity).toBeGreaterThan(0);
	});

	it("keeps the newest state when deliveries arrive out of order", async () => {
		const { name } = await publishedPackage();
		const index = env.INDEX.get(env.INDEX.idFromName("index"));
		const doc = await packageStub(name).searchDocument();
		if (!doc.ok) throw new Error(doc.message);
		expect(await index.upsert({ ...doc.value, version: "0.0.1", rev: doc.value.rev - 1 })).toBe(false);
		expect(await index.remove(name, doc.value.rev - 1)).toBe(false);
		expect((await indexed(name))?.version).toBe("1.0.0");
	});
});

describe("the search outbox", () => {
	const AT = "2026-01-01T00:00:00.000Z";
	const NOW = 1_000_000;

	/**
	 * The outbox of a fresh package object (migrated here: objects create their tables on their first
	 * write), with a package row made by hand and no alarm of its own.
	 */
	async function withOutbox<T>(body: (outbox: SearchOutbox, pkg: PackageRow) => Promise<T>): Promise<T> {
		const name = uniqueName("outbox");
		return runInDurableObject(packageStub(name), async (_instance, state) => {
			applyMigrations(state.storage, packageMetadataMigrations);
			const record = new PackageRecord(state.storage.sql);
			record.claim(name, "public", AT);
			return body(new SearchOutbox(state.storage.sql, env), record.bumpRevision(AT));
		});
	}

	const documentOf = (pkg: PackageRow) => searchDocument(pkg, [versionRow("1.0.0")], { latest: "1.0.0" }, [], 0);
	const unreachable = () => {
		throw new Error("index unreachable");
	};

	it("retries a failed delivery with backoff that doubles from 2 s up to 5 minutes", async () => {
		const errors = vi.spyOn(console, "error").mockImplementation(() => {});
		const delays = await withOutbox(async (outbox, pkg) => {
			const answers: (number | null)[] = [];
			for (let i = 0; i < 10; i++) {
				const next = await outbox.deliver({ pkg, weeklyDownloads: 0, document: unreachable }, NOW, 0);
				answers.push(next === null ? null : next - NOW);
			}
			return answers;
		});
		expect(delays).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000]);
		expect(errors).toHaveBeenCalledWith(
			expect.stringMatching(/^search index delivery failed \(10\) for outbox-/),
			expect.any(Error),
		);
	});

	it("delivers the current state after failures, then starts the backoff afresh", async () => {
		vi.spyOn(console, "error").mockImplementation(() => {});
		const { name, answers } = await withOutbox(async (outbox, pkg) => {
			const answers = [
				await outbox.deliver({ pkg, weeklyDownloads: 0, document: unreachable }, NOW, 0),
				await outbox.deliver({ pkg, weeklyDownloads: 0, document: unreachable }, NOW, 0),
				await outbox.deliver({ pkg, weeklyDownloads: 0, document: () => documentOf(pkg) }, NOW, 0),
				// Nothing changed since: nothing to send, and no alarm needed.
				await outbox.deliver({ pkg, weeklyDownloads: 0, document: unreachable }, NOW, 0),
				await outbox.deliver({ pkg: { ...pkg, rev: pkg.rev + 1 }, weeklyDownloads: 0, document: unreachable }, NOW, 0),
			];
			return { name: pkg.name, answers: answers.map((a) => (a === null ? null : a - NOW)) };
		});
		expect(answers).toEqual([2_000, 4_000, null, null, 2_000]);
		expect((await indexed(name))?.version).toBe("1.0.0");
	});

	it("pushes a changed download total at most once per push interval, and a new revision at once", async () => {
		const EVERY = 300_000;
		const answers = await withOutbox(async (outbox, pkg) => {
			const send = (weeklyDownloads: number, now: number, rev = pkg.rev) =>
				outbox.deliver(
					{ pkg: { ...pkg, rev }, weeklyDownloads, document: () => documentOf({ ...pkg, rev }) },
					now,
					EVERY,
				);
			return [
				await send(0, NOW),
				await send(5, NOW + 1_000),
				await send(5, NOW + EVERY - 1),
				await send(5, NOW + EVERY),
				await send(5, NOW + EVERY + 1),
				await send(9, NOW + EVERY + 2, pkg.rev + 1),
			];
		});
		expect(answers).toEqual([null, NOW + EVERY, NOW + EVERY, null, null, null]);
	});

	it("removes a package with nothing left to show from the index", async () => {
		const name = await withOutbox(async (outbox, pkg) => {
			await outbox.deliver({ pkg, weeklyDownloads: 0, document: () => documentOf(pkg) }, NOW, 0);
			return pkg.name;
		});
		expect((await indexed(name))?.version).toBe("1.0.0");
		const stub = packageStub(name);
		await runInDurableObject(stub, async (_instance, state) => {
			const pkg = new PackageRecord(state.storage.sql).bumpRevision(AT);
			expect(
				await new SearchOutbox(state.storage.sql, env).deliver(
					{ pkg, weeklyDownloads: 0, document: () => null },
					NOW,
					0,
				),
			).toBeNull();
		});
		expect(await indexed(name)).toBeUndefined();
	});
});
