import type { Actor } from "../../schema/audit";
import { config } from "../../schema/config";
import { ok, type Result } from "../../schema/errors";
import { splitName } from "../../schema/names";
import type { PackageRow } from "../../schema/package/rows";
import type { SearchDocument } from "../../schema/search/contract";
import { authStoreObject } from "../stubs";
import type { Change, PackageRows, Written } from "./package-rows";
import { RETENTION_BATCH, RETENTION_CHECK_EVERY_MS } from "./retention";
import { signaturesForUnsigned } from "./signature-backfill";
import { removeVersions } from "./version-changes";

// The package object's one alarm and the deferred jobs it runs: send the upstream figures, write
// buffered download counts, drop expired staged versions, sign versions from before signing, apply the retention policy, then
// tell the search index. Anything that leaves work for later sets the alarm through `schedule`,
// which keeps the earliest time asked for.

/** What the alarm needs of the object it lives in. */
export type AlarmHost = {
	/** Whether the object has storage yet: a name that was only ever asked about has none. */
	schemaReady(): boolean;
	/** The upstream side's activity figures, sent by the alarm. */
	upstream: { readonly hasActivity: boolean; sendActivity(): Promise<unknown> };
	/** A change through the object's write path (audit row, new revision, the packuments' new pieces). */
	write<T>(actor: Actor, change: (pkg: PackageRow, now: string) => Result<Change<T>>): Result<Written<T>>;
	searchDocument(pkg: PackageRow): SearchDocument | null;
};

/** The registry itself, as the actor of the changes it makes on its own (signing old versions). */
const REGISTRY: Actor = { name: "registry", prefix: null, ip: null, label: "registry" };

export class PackageAlarm {
	/** When this object's alarm is due, as far as this instance has set it (null: not known to be set). */
	private alarmAt: number | null = null;

	constructor(
		private readonly storage: DurableObjectStorage,
		private readonly env: Env,
		private readonly rows: PackageRows,
		private readonly host: AlarmHost,
	) {}

	/**
	 * When the object starts with storage: learns the alarm already set, and wakes for the jobs
	 * left from before (versions from before the registry signed; pre-release versions, which the
	 * retention policy is applied to once a day). `whole`: false while the object holds only
	 * upstream copies (schema/package/mirror-schema.ts), which leave no such jobs.
	 */
	async start(whole: boolean): Promise<void> {
		this.alarmAt = await this.storage.getAlarm();
		if (!whole) return;
		if (this.rows.versions.unsigned(1).length > 0) this.schedule(Date.now());
		if (this.hasPrereleases()) this.schedule(this.rows.retention.lastCheck() + RETENTION_CHECK_EVERY_MS);
	}

	/** Sets the alarm unless one this instance knows of is already due sooner. */
	schedule(at: number): void {
		if (this.alarmAt !== null && this.alarmAt <= at) return;
		this.alarmAt = at;
		void this.storage.setAlarm(at);
	}

	/** Download counts are written in batches: the alarm writes them this long after the first. */
	scheduleDownloadFlush(): void {
		this.schedule(Date.now() + config(this.env).downloadFlushMs);
	}

	/** The alarm went off: every job runs. */
	async run(): Promise<void> {
		this.alarmAt = null;
		const now = Date.now();
		const { upstream } = this.host;
		if (upstream.hasActivity) await upstream.sendActivity();
		if (upstream.hasActivity) this.schedule(now + config(this.env).downloadFlushMs);
		if (!this.host.schemaReady()) return;
		const { downloads, record, outbox } = this.rows;
		if (downloads.pending) this.storage.transactionSync(() => downloads.flush());
		await this.expireStaged(now);
		await this.signUnsignedVersions();
		await this.applyRetention(now);
		const pkg = record.get();
		if (pkg) {
			const next = await outbox.deliver(
				{
					pkg,
					weeklyDownloads: downloads.weeklyTotal(),
					document: () => (pkg.unpublished_at === null ? this.host.searchDocument(pkg) : null),
				},
				now,
				config(this.env).searchDownloadsPushMs,
			);
			if (next !== null) this.schedule(next);
			await this.rows.metricsReport.deliver(pkg, downloads);
		}
		const hooksNext = await this.rows.hooks.deliver(() => this.hookSubject(), now, config(this.env).hookRetryMs);
		if (hooksNext !== null) this.schedule(hooksNext);
		if (downloads.pending) this.schedule(now + config(this.env).downloadFlushMs);
	}

	/** Who package hooks match this package by: its name, its scope, its maintainers. */
	private hookSubject() {
		const name = this.rows.record.get()?.name ?? "";
		return { name, scope: splitName(name).scope, maintainers: this.rows.versions.maintainers().map((m) => m.name) };
	}

	/** Drops expired staged versions (npm stage) with their bytes, and forgets them in the registry's index. */
	private async expireStaged(now: number): Promise<void> {
		const { staged } = this.rows;
		const ids = staged.expired(new Date(now).toISOString());
		if (ids.length > 0) {
			const keys = this.storage.transactionSync(() => ids.flatMap((id) => staged.remove(id)));
			await this.env.BLOBS.delete(keys);
			await authStoreObject(this.env).unindexStaged(ids);
		}
		const next = staged.nextExpiry();
		if (next !== null) this.schedule(next);
	}

	/** Signs a batch of versions published before signing existed; the next alarm takes the rest. */
	private async signUnsignedVersions(): Promise<void> {
		const pkg = this.rows.record.live();
		if (!pkg) return;
		const { versions } = this.rows;
		const signed = await signaturesForUnsigned(versions, pkg.name, config(this.env).registrySigningKey);
		if (signed.length === 0) return;
		this.host.write(REGISTRY, () => {
			for (const { version, signatures } of signed) versions.setSignatures(version, JSON.stringify(signatures));
			return ok({
				value: {},
				action: "signatures.backfill",
				target: null,
				detail: { versions: signed.map((s) => s.version) },
			});
		});
		if (versions.unsigned(1).length > 0) this.schedule(Date.now());
	}

	/**
	 * Removes a batch of the pre-release versions the retention policy names (their bytes too);
	 * the next alarm takes the rest. Once nothing is left, checked again a day later.
	 */
	private async applyRetention(now: number): Promise<void> {
		const pkg = this.rows.record.live();
		if (!pkg || !this.hasPrereleases()) return;
		const { retention, versions } = this.rows;
		const checked = retention.lastCheck();
		if (now - checked < RETENTION_CHECK_EVERY_MS) {
			this.schedule(checked + RETENTION_CHECK_EVERY_MS);
			return;
		}
		const policy = await authStoreObject(this.env).retentionPolicy(splitName(pkg.name).scope);
		const removable = policy.days === null ? [] : retention.removable(versions.all(), policy.days, now);
		const batch = removable.slice(0, RETENTION_BATCH);
		if (batch.length > 0) {
			const removed = this.host.write(REGISTRY, (_pkg, at) => {
				const keys = removeVersions(this.rows, batch, false, REGISTRY, at);
				if (!keys.ok) return keys;
				return ok({
					value: { keys: keys.value },
					action: "retention.remove",
					target: batch.join(","),
					detail: { versions: batch, days: policy.days, policy: policy.source },
				});
			});
			// Bytes after the commit: a failed deletion leaves only what the reindex sweep removes.
			if (removed.ok && removed.value.keys.length > 0) await this.env.BLOBS.delete(removed.value.keys);
		}
		if (removable.length > batch.length) {
			this.schedule(Date.now());
			return;
		}
		this.storage.transactionSync(() => retention.markChecked(now));
		this.schedule(now + RETENTION_CHECK_EVERY_MS);
	}

	private hasPrereleases(): boolean {
		return this.rows.versions.hasPrerelease();
	}
}
