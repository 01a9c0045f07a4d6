import {
	createExecutionContext,
	createScheduledController,
	env,
	runInDurableObject,
	waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
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
});
