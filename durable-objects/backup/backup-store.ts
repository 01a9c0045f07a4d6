import { DurableObject } from "cloudflare:workers";
import {
	BACKUP_PREFIX,
	type BackupView,
	backupBlobKey,
	backupManifestKey,
	backupPageKey,
	EXPORT_PAGE_BYTES,
	type ExportCursor,
	type ExportPage,
} from "../../schema/backup/contract";
import { backupMigrations } from "../../schema/backup/migrations";
import { config } from "../../schema/config";
import { refusals } from "../../schema/refusals";
import { applyMigrations } from "../migrations";
import { authStoreObject, hooksObject, packageObject, searchIndex } from "../stubs";
import { type ExportSources, exportPage, firstCursor } from "./export-pager";

// The scheduled backups, one object for the registry (idFromName("backups")). The cron trigger
// starts one a day (worker/backup/scheduled.ts); the object's alarm builds it in steps, each far
// inside a request's 1,000 subrequests: a page of the export (at most BACKUP_PAGE_CALLS object
// calls, one R2 write of at most EXPORT_PAGE_BYTES), or up to BLOBS_PER_STEP copies of bytes the
// pages name (a read and a write each), or the manifest, or a batch of pruning (a backup's
// objects, then the copies of bytes no kept backup names). Its cursor lives here, so a step that
// fails is taken again by the next alarm. In R2:
//   backups/{id}/pages/000001.json …  the export's pages, as GET /-/admin/export answers them
//   backups/{id}/manifest.json         what the backup holds, written last
//   backups/blobs/{key}                the tarballs and file bundles, copied once (keys are immutable)

const BACKUP_PAGE_CALLS = 40;
/**
 * How many times in a row a step may fail before the package it was reading is left out of the
 * backup (named in its manifest as failed) and the backup goes on; a failure that names no package
 * (the index, the auth store, R2) is retried with backoff, at most once an hour.
 */
export const BACKUP_STEP_TRIES = 5;
const BLOBS_PER_STEP = 100;
const PRUNE_BATCH = 1_000;

type BackupRow = {
	id: string;
	started_at: string;
	finished_at: string | null;
	state: BackupView["state"];
	cursor: string | null;
	pages: number;
	packages: number;
	versions: number;
	bytes: number;
	tries: number;
	failed: string;
};

export class BackupDO extends DurableObject<Env> {
	private readonly sql: SqlStorage;
	/** A step under way: R2 calls let another event in, and two steps must not write one page twice. */
	private stepping = false;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		ctx.blockConcurrencyWhile(async () => {
			applyMigrations(ctx.storage, backupMigrations);
		});
	}

	/** Starts a backup as of `now` unless one is under way (that one is answered), and wakes the alarm. */
	async start(now: number): Promise<BackupView> {
		let row = this.sql.exec<BackupRow>(`SELECT * FROM backups WHERE state = 'running'`).toArray()[0];
		if (!row) {
			const at = new Date(now).toISOString();
			const id = at.replaceAll(":", "-").replaceAll(".", "-");
			this.sql.exec(
				`INSERT INTO backups (id, started_at, state, cursor) VALUES (?, ?, 'running', ?)`,
				id,
				at,
				JSON.stringify(firstCursor(null)),
			);
			row = this.row(id) as BackupRow;
		}
		await this.ctx.storage.setAlarm(Date.now());
		return view(row);
	}

	list(): BackupView[] {
		return this.sql.exec<BackupRow>(`SELECT * FROM backups ORDER BY id DESC`).toArray().map(view);
	}

	get(id: string): BackupView | null {
		const row = this.row(id);
		return row ? view(row) : null;
	}

	override async alarm(): Promise<void> {
		const now = Date.now();
		try {
			if (await this.step(now)) await this.ctx.storage.setAlarm(Date.now());
		} catch (error) {
			// Not thrown back to the runtime (whose retries give up after a few): counted, and tried
			// again later by this object, until the step is skipped (writePage) or succeeds.
			console.error("backup step failed", error);
			const tries = this.sql.exec<{ tries: number }>(`SELECT tries FROM backups WHERE state = 'running'`).toArray()[0];
			await this.ctx.storage.setAlarm(now + Math.min(3_600, 2 ** (tries?.tries ?? 0)) * 1000);
		}
	}

	/** One bounded step of the work there is; answers whether more is left. */
	async step(now: number): Promise<boolean> {
		if (this.stepping) return true;
		this.stepping = true;
		try {
			return await this.stepOnce(now);
		} finally {
			this.stepping = false;
		}
	}

	private async stepOnce(now: number): Promise<boolean> {
		const running = this.sql.exec<BackupRow>(`SELECT * FROM backups WHERE state = 'running'`).toArray()[0];
		if (running) {
			const pending = this.sql
				.exec<{ key: string; backup_id: string }>(`SELECT key, backup_id FROM pending_blobs LIMIT ?`, BLOBS_PER_STEP)
				.toArray();
			if (pending.length > 0) await this.copyBlobs(pending);
			else if (running.cursor !== null) await this.writePage(running, JSON.parse(running.cursor) as ExportCursor);
			else await this.finish(running, now);
			return true;
		}
		return this.prune(now);
	}

	private async writePage(backup: BackupRow, cursor: ExportCursor): Promise<void> {
		const failed: { name: string; reason: string }[] = JSON.parse(backup.failed);
		let reading: string | null = null;
		let page: ExportPage;
		try {
			const sources = this.sources(new Set(failed.map((f) => f.name)), (name) => (reading = name));
			page = await exportPage(sources, cursor, { calls: BACKUP_PAGE_CALLS, bytes: EXPORT_PAGE_BYTES });
		} catch (error) {
			const tries = backup.tries + 1;
			const name = reading as string | null;
			if (name === null || tries < BACKUP_STEP_TRIES) {
				this.sql.exec(`UPDATE backups SET tries = ? WHERE id = ?`, tries, backup.id);
				throw error;
			}
			// The package keeps failing: the backup goes on without it (the next step passes it by), and says so.
			failed.push({ name, reason: String(error) });
			this.sql.exec(`UPDATE backups SET tries = 0, failed = ? WHERE id = ?`, JSON.stringify(failed), backup.id);
			return;
		}
		const body = JSON.stringify(page);
		const number = backup.pages + 1;
		if (page.items.length > 0) await this.env.BLOBS.put(backupPageKey(backup.id, number), body);
		const heads = page.items.flatMap((item) => (item.kind === "package" ? [item] : []));
		let bytes = page.items.length > 0 ? body.length : 0;
		this.ctx.storage.transactionSync(() => {
			for (const head of heads) {
				for (const v of head.versions) {
					bytes += v.tarballSize;
					for (const key of [v.tarballKey, v.filesKey]) {
						const copied = this.sql.exec(
							`UPDATE copied_blobs SET last_backup_id = ? WHERE key = ?`,
							backup.id,
							key,
						).rowsWritten;
						if (copied > 0) continue;
						this.sql.exec(
							`INSERT INTO pending_blobs (key, backup_id, size) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`,
							key,
							backup.id,
							key === v.tarballKey ? v.tarballSize : 0,
						);
					}
				}
			}
			this.sql.exec(
				`UPDATE backups SET cursor = ?, pages = pages + ?, packages = packages + ?, versions = versions + ?,
				 bytes = bytes + ?, tries = 0 WHERE id = ?`,
				page.next === null ? null : JSON.stringify(page.next),
				page.items.length > 0 ? 1 : 0,
				heads.length,
				heads.reduce((n, h) => n + h.versions.length, 0),
				bytes,
				backup.id,
			);
		});
	}

	/**
	 * Copies bytes under backups/blobs/, streamed (a 100 MB tarball is never held whole), three at a
	 * time: each holds two connections (its read and its write) of the six an invocation may open.
	 */
	private async copyBlobs(pending: { key: string; backup_id: string }[]): Promise<void> {
		const queue = [...pending];
		const copyNext = async (): Promise<void> => {
			for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
				await this.copyBlob(next.key, next.backup_id);
			}
		};
		await Promise.all([copyNext(), copyNext(), copyNext()]);
	}

	private async copyBlob(key: string, backupId: string): Promise<void> {
		const object = await this.env.BLOBS.get(key);
		// Gone since its page was written (unpublished): nothing to copy, and the next backup no longer names it.
		if (object) {
			const { readable, writable } = new FixedLengthStream(object.size);
			await Promise.all([object.body.pipeTo(writable), this.env.BLOBS.put(backupBlobKey(key), readable)]);
		}
		this.ctx.storage.transactionSync(() => {
			if (object) {
				this.sql.exec(
					`INSERT OR IGNORE INTO copied_blobs (key, size, last_backup_id) VALUES (?, ?, ?)`,
					key,
					object.size,
					backupId,
				);
			}
			this.sql.exec(`DELETE FROM pending_blobs WHERE key = ?`, key);
		});
	}

	private async finish(backup: BackupRow, now: number): Promise<void> {
		const finishedAt = new Date(now).toISOString();
		const manifest = { ...view({ ...backup, finished_at: finishedAt, state: "done" }), format: 1 };
		await this.env.BLOBS.put(backupManifestKey(backup.id), JSON.stringify(manifest));
		this.sql.exec(`UPDATE backups SET state = 'done', finished_at = ? WHERE id = ?`, finishedAt, backup.id);
	}

	/** Removes, a batch at a time, the backups older than BACKUP_RETENTION_DAYS (never the newest one). */
	private async prune(now: number): Promise<boolean> {
		const cutoff = new Date(now - config(this.env).backupRetentionMs).toISOString();
		const old = this.sql
			.exec<BackupRow>(
				`SELECT * FROM backups WHERE state IN ('done', 'pruning') AND started_at < ?
				 AND id <> (SELECT max(id) FROM backups WHERE state = 'done') ORDER BY id LIMIT 1`,
				cutoff,
			)
			.toArray()[0];
		if (!old) return this.pruneBlobs();
		this.sql.exec(`UPDATE backups SET state = 'pruning' WHERE id = ?`, old.id);
		const listed = await this.env.BLOBS.list({ prefix: `${BACKUP_PREFIX}${old.id}/`, limit: PRUNE_BATCH });
		if (listed.objects.length > 0) await this.env.BLOBS.delete(listed.objects.map((o) => o.key));
		if (!listed.truncated) this.sql.exec(`DELETE FROM backups WHERE id = ?`, old.id);
		return true;
	}

	/** Deletes, a batch at a time, the copies of bytes that no kept backup names any more. */
	private async pruneBlobs(): Promise<boolean> {
		const keys = this.sql
			.exec<{ key: string }>(
				`SELECT key FROM copied_blobs WHERE last_backup_id < (SELECT min(id) FROM backups) LIMIT ?`,
				PRUNE_BATCH,
			)
			.toArray()
			.map((r) => r.key);
		if (keys.length === 0) return false;
		await this.env.BLOBS.delete(keys.map(backupBlobKey));
		this.ctx.storage.transactionSync(() => {
			for (const key of keys) this.sql.exec(`DELETE FROM copied_blobs WHERE key = ?`, key);
		});
		return true;
	}

	/**
	 * The objects a page reads; `reading` hears which package each call is about (null: none), and
	 * the packages left out as failed answer "not found", which the pager passes by.
	 */
	private sources(leftOut: ReadonlySet<string>, reading: (name: string | null) => void): ExportSources {
		return {
			packageNames: (after, limit, scope) => {
				reading(null);
				return searchIndex(this.env).packageNames(after, limit, scope);
			},
			exportHead: async (name) => {
				reading(name);
				return leftOut.has(name) ? refusals.packageNotFound() : packageObject(this.env, name).exportHead();
			},
			exportRows: async (name, rev, cursor) => {
				reading(name);
				return leftOut.has(name) ? refusals.packageNotFound() : packageObject(this.env, name).exportRows(rev, cursor);
			},
			exportAuth: (cursor) => {
				reading(null);
				return authStoreObject(this.env).exportRows(cursor);
			},
			exportHooks: (cursor) => {
				reading(null);
				return hooksObject(this.env).exportRows(cursor);
			},
		};
	}

	private row(id: string): BackupRow | null {
		return this.sql.exec<BackupRow>(`SELECT * FROM backups WHERE id = ?`, id).toArray()[0] ?? null;
	}
}

function view(row: BackupRow): BackupView {
	return {
		id: row.id,
		state: row.state,
		startedAt: row.started_at,
		finishedAt: row.finished_at,
		pages: row.pages,
		packages: row.packages,
		versions: row.versions,
		bytes: row.bytes,
		failed: JSON.parse(row.failed),
	};
}
