import {
	createExecutionContext,
	createScheduledController,
	env,
	runInDurableObject,
	waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { BACKUP_STEP_TRIES, type BackupDO } from "../durable-objects/backup/backup-store";
import { backupObject } from "../durable-objects/stubs";
import { backupBlobKey, backupManifestKey, type ExportItem, type PackageHead } from "../schema/backup/contract";
import worker from "../worker/index";
import { packageStub, runPackageAlarm } from "./helpers/package-object";
import { ADMIN, ALL, call, createToken, publish, uniqueName } from "./helpers/registry";

// Issue #18: the cron trigger starts a backup that the BackupDO builds in steps (its alarm) into
// R2 under backups/; backups older than BACKUP_RETENTION_DAYS are pruned; GET /-/admin/backups
// lists them and each reads back, page by page, as the export API's items.

const DAY = 24 * 60 * 60 * 1000;

/** Runs the backup object's steps until nothing is left (what its alarm does, one step an alarm). */
async function runBackupSteps(): Promise<number> {
	const stub = backupObject(env);
	for (let steps = 1; steps <= 1_000; steps += 1) {
		const more = await runInDurableObject(stub, (instance) => instance.step(Date.now()));
		if (!more) return steps;
	}
	throw new Error("the backup did not finish in 1,000 steps");
}

/**
 * `env` whose object namespaces and R2 bucket count what a request would: each call of a method of
 * an object's stub, and each R2 call (DESIGN invariant 11: at most 1,000 subrequests a request).
 * The package object of `failing`, if named, throws on every call, as an object that keeps failing.
 */
function countingEnv(failing: string | null = null): { env: Env; count: () => number; failed: () => number } {
	let calls = 0;
	let failed = 0;
	const counted = <T extends object>(target: T, fails = false): T =>
		new Proxy(target, {
			get(t, key) {
				const value = Reflect.get(t, key);
				if (typeof value !== "function") return value;
				return (...args: unknown[]) => {
					calls += 1;
					if (fails) {
						failed += 1;
						return Promise.reject(new Error("the package object keeps failing"));
					}
					return Reflect.apply(value, t, args);
				};
			},
		});
	const namespace = (ns: DurableObjectNamespace) => {
		const failingId = failing === null ? null : ns.idFromName(failing);
		return new Proxy(ns, {
			get(t, key) {
				const value = Reflect.get(t, key);
				if (key === "get") return (id: DurableObjectId) => counted(t.get(id), failingId?.equals(id) ?? false);
				return typeof value === "function" ? value.bind(t) : value;
			},
		});
	};
	const wrapped = {
		...env,
		PACKAGES: namespace(env.PACKAGES as unknown as DurableObjectNamespace),
		INDEX: namespace(env.INDEX as unknown as DurableObjectNamespace),
		AUTH: namespace(env.AUTH as unknown as DurableObjectNamespace),
		HOOKS: namespace(env.HOOKS as unknown as DurableObjectNamespace),
		BLOBS: counted(env.BLOBS),
	} as unknown as Env;
	return { env: wrapped, count: () => calls, failed: () => failed };
}

/** Runs `work` in the backup object with its bindings replaced by `bindings` meanwhile. */
async function withBindings<T>(bindings: Env, work: (instance: BackupDO, state: DurableObjectState) => Promise<T>) {
	return runInDurableObject(backupObject(env), async (instance: BackupDO, state) => {
		const own = Object.getOwnPropertyDescriptor(instance, "env");
		Object.defineProperty(instance, "env", { value: bindings, configurable: true, writable: true });
		try {
			return await work(instance, state);
		} finally {
			if (own) Object.defineProperty(instance, "env", own);
			else Reflect.deleteProperty(instance, "env");
		}
	});
}

/** One step of the backup object with its bindings counted: whether more is left, and its subrequests. */
async function countedStep(): Promise<{ more: boolean; subrequests: number }> {
	const { env: counting, count } = countingEnv();
	const more = await withBindings(counting, (instance) => instance.step(Date.now()));
	return { more, subrequests: count() };
}

async function scheduled(): Promise<void> {
	const controller = createScheduledController({ scheduledTime: Date.now(), cron: "17 3 * * *" });
	const ctx = createExecutionContext();
	await worker.scheduled?.(controller, env, ctx);
	await waitOnExecutionContext(ctx);
}

describe("scheduled backups (#18)", () => {
	it("the scheduled handler writes a backup in steps, and prunes the ones past BACKUP_RETENTION_DAYS", async () => {
		const scope = `@${uniqueName("sched")}`;
		const name = `${scope}/kept`;
		const token = (await createToken([{ scope, permissions: ALL }])).token;
		expect((await publish(name, "1.0.0", token)).status).toBe(201);
		expect((await publish(name, "1.0.1", token, { tag: "next" })).status).toBe(201);
		await runPackageAlarm(name);

		// A backup from 400 days ago: kept while it is the newest, pruned once a newer one is done.
		const old = await backupObject(env).start(Date.now() - 400 * DAY);
		await runBackupSteps();
		expect((await backupObject(env).get(old.id))?.state).toBe("done");
		expect(await env.BLOBS.head(backupManifestKey(old.id))).not.toBeNull();
		// 1.0.1 goes: only the old backup names its bytes, whose copy goes with that backup.
		const dropped = (await packageStub(name).exportHead()) as { ok: true; value: PackageHead };
		const droppedKey = dropped.value.versions.find((v) => v.version === "1.0.1")?.tarballKey ?? "";
		expect(await env.BLOBS.head(backupBlobKey(droppedKey))).not.toBeNull();
		const removed = await call(`/packages/${name}/versions/1.0.1?force=true`, { method: "DELETE", token: ADMIN });
		expect(removed.status).toBe(200);
		await runPackageAlarm(name);

		await scheduled();
		const steps = await runBackupSteps();
		expect(steps).toBeGreaterThan(2);
		const backups = await backupObject(env).list();
		expect(backups.map((b) => b.id)).not.toContain(old.id);
		expect((await env.BLOBS.list({ prefix: `backups/${old.id}/` })).objects).toEqual([]);
		expect(await env.BLOBS.head(backupBlobKey(droppedKey))).toBeNull();
		const latest = backups[0];
		expect(latest?.state).toBe("done");
		expect(latest?.packages).toBeGreaterThanOrEqual(1);
		expect(latest?.bytes).toBeGreaterThan(0);

		// Listed for admins only; read back page by page, it holds the package and a copy of its bytes.
		const listed = await call("/-/admin/backups", { token: ADMIN });
		expect(((await listed.json()) as { backups: { id: string }[] }).backups[0]?.id).toBe(latest?.id);
		expect((await call("/-/admin/backups", { token })).status).toBe(403);
		const items: ExportItem[] = [];
		let cursor: string | null = "1";
		while (cursor !== null) {
			const res = await call(`/-/admin/backups/${latest?.id}/export?cursor=${cursor}`, { token: ADMIN });
			expect(res.status).toBe(200);
			const page = (await res.json()) as { items: ExportItem[]; next: string | null };
			items.push(...page.items);
			cursor = page.next;
		}
		const head = items.find((i): i is PackageHead => i.kind === "package" && i.name === name);
		expect(head?.versions.map((v) => v.version)).toEqual(["1.0.0"]);
		expect(await env.BLOBS.head(backupBlobKey(head?.versions[0]?.filesKey ?? ""))).not.toBeNull();
		const key = head?.versions[0]?.tarballKey ?? "";
		expect(await env.BLOBS.head(backupBlobKey(key))).not.toBeNull();
		const bytes = await call(`/-/admin/backups/${latest?.id}/blob?key=${encodeURIComponent(key)}`, { token: ADMIN });
		expect(bytes.status).toBe(200);
		expect((await bytes.arrayBuffer()).byteLength).toBe(head?.versions[0]?.tarballSize);

		// The dashboard shows the last backup and its size.
		const dashboard = await (await call("/-/dashboard", { token: ADMIN })).text();
		expect(dashboard).toContain("Last backup");
		expect(dashboard).toContain(`datetime="${latest?.finishedAt}"`);
		expect(dashboard).toMatch(/Its size<\/dt><dd>[\d.]+ (kB|MB)</);
	});
	it("keeps every step of a scheduled backup far inside 1,000 subrequests, counted at its bindings (invariant 11)", async () => {
		const scope = `@${uniqueName("schedcount")}`;
		const token = (await createToken([{ scope, permissions: ALL }])).token;
		for (let i = 0; i < 8; i += 1) {
			const name = `${scope}/p${i}`;
			expect((await publish(name, "1.0.0", token)).status).toBe(201);
			expect((await publish(name, "1.0.1", token)).status).toBe(201);
			await runPackageAlarm(name);
		}
		// Started with no alarm of its own: every step is taken, and counted, here.
		await runInDurableObject(backupObject(env), async (instance: BackupDO, state) => {
			await instance.start(Date.now());
			await state.storage.deleteAlarm();
		});
		let most = 0;
		let steps = 0;
		for (let more = true; more; steps += 1) {
			if (steps > 1_000) throw new Error("the backup did not finish in 1,000 steps");
			const step = await countedStep();
			more = step.more;
			most = Math.max(most, step.subrequests);
		}
		// Pages of at most 40 object calls and one write; copies of at most 100 blobs (a read and a write each).
		expect(most).toBeGreaterThan(16);
		expect(most).toBeLessThanOrEqual(200);
		const latest = (await backupObject(env).list())[0];
		expect(latest?.state).toBe("done");
		expect(latest?.failed).toEqual([]);
	});

	it(`leaves out a package whose object keeps failing after ${BACKUP_STEP_TRIES} tries, names it in the manifest, and finishes`, async () => {
		const scope = `@${uniqueName("schedfail")}`;
		const token = (await createToken([{ scope, permissions: ALL }])).token;
		const [broken, kept] = [`${scope}/broken`, `${scope}/kept`];
		for (const name of [broken, kept]) {
			expect((await publish(name, "1.0.0", token)).status).toBe(201);
			await runPackageAlarm(name);
		}
		const failing = countingEnv(broken);
		// Started with no alarm of its own: this test takes each step, with the failing bindings.
		const started = await withBindings(failing.env, async (instance, state) => {
			const backup = await instance.start(Date.now());
			await state.storage.deleteAlarm();
			return backup;
		});
		// The alarm does not throw a failed step back to the runtime: it tries again later, by itself.
		const before = Date.now();
		const logged = vi.spyOn(console, "error").mockImplementation(() => {});
		await withBindings(failing.env, async (instance, state) => {
			await instance.alarm();
			expect(logged).toHaveBeenCalledWith("backup step failed", expect.any(Error));
			logged.mockRestore();
			expect(await state.storage.getAlarm()).toBeGreaterThan(before);
			await state.storage.deleteAlarm();
		});
		expect(failing.failed()).toBe(1);
		let failures = 1;
		for (let steps = 0; ; steps += 1) {
			if (steps > 1_000) throw new Error("the backup did not finish in 1,000 steps");
			const backup = await backupObject(env).get(started.id);
			if (backup?.state === "done") break;
			await withBindings(failing.env, async (instance) => {
				try {
					await instance.step(Date.now());
				} catch {
					failures += 1;
				}
			});
		}
		expect(failing.failed()).toBe(BACKUP_STEP_TRIES);
		// The last try leaves the package out instead of failing again.
		expect(failures).toBe(BACKUP_STEP_TRIES - 1);
		const done = await backupObject(env).get(started.id);
		expect(done?.failed.map((f) => f.name)).toEqual([broken]);
		const manifest = await env.BLOBS.get(backupManifestKey(started.id));
		const written = (await manifest?.json()) as { failed: { name: string; reason: string }[] };
		expect(written.failed.map((f) => f.name)).toEqual([broken]);
		// The rest is in it.
		const items: ExportItem[] = [];
		let cursor: string | null = "1";
		while (cursor !== null) {
			const page = (await (
				await call(`/-/admin/backups/${started.id}/export?cursor=${cursor}`, { token: ADMIN })
			).json()) as { items: ExportItem[]; next: string | null };
			items.push(...page.items);
			cursor = page.next;
		}
		const heads = items.filter((i): i is PackageHead => i.kind === "package").map((i) => i.name);
		expect(heads).toContain(kept);
		expect(heads).not.toContain(broken);
		// The dashboard says what the last backup left out.
		const dashboard = await (await call("/-/dashboard", { token: ADMIN })).text();
		expect(dashboard).toContain(`Left out</dt><dd>${broken}: reading them kept failing`);
	});
});
