import { Channels } from "./channels";
import { Claim } from "./claim";
import { Documents } from "./documents";
import { Downloads } from "./downloads";
import { HookOutbox } from "./hook-outbox";
import { MetricsReport } from "./metrics-report";
import { PackageRecord } from "./package-record";
import { Readmes } from "./readmes";
import { Retention } from "./retention";
import { Rollouts } from "./rollouts";
import { SearchOutbox } from "./search-outbox";
import { StagedVersions } from "./staged";
import { Versions } from "./versions";

// The tables of one package object, one class per concern, over the object's SQLite. The facade
// (package-metadata.ts), its changes (version-changes.ts, channel-changes.ts) and its alarm
// (package-alarm.ts) all work through this one set.

export type PackageRows = {
	readonly record: PackageRecord;
	readonly versions: Versions;
	readonly channels: Channels;
	readonly documents: Documents;
	readonly readmes: Readmes;
	readonly downloads: Downloads;
	readonly outbox: SearchOutbox;
	/** Package hook events and their deliveries (hook-outbox.ts). */
	readonly hooks: HookOutbox;
	/** What the package reports to the registry-wide figures (metrics-report.ts). */
	readonly metricsReport: MetricsReport;
	readonly rollouts: Rollouts;
	readonly retention: Retention;
	readonly claims: Claim;
	/** Versions staged by npm stage publish, kept aside until approved (staged.ts). */
	readonly staged: StagedVersions;
};

export function packageRows(sql: SqlStorage, env: Env): PackageRows {
	const channels = new Channels(sql);
	const rollouts = new Rollouts(sql);
	return {
		record: new PackageRecord(sql),
		versions: new Versions(sql),
		channels,
		documents: new Documents(sql),
		readmes: new Readmes(sql),
		downloads: new Downloads(sql),
		outbox: new SearchOutbox(sql, env),
		hooks: new HookOutbox(sql, env),
		metricsReport: new MetricsReport(sql, env),
		rollouts,
		retention: new Retention(sql, channels, rollouts),
		claims: new Claim(sql),
		staged: new StagedVersions(sql),
	};
}

/** What a write did, for the audit trail, and what it answers. */
export type Change<T> = {
	value: T;
	action: string;
	target: string | null;
	detail?: Record<string, unknown>;
	/** The package's `modified` after the change, when it is not now (an import keeps the source's). */
	modifiedAt?: string;
};

/** A write that found nothing to do: it answers `value` and commits nothing. */
export type Skip<T> = { value: T; skip: true };

/** Every write answers with the revision it committed. */
export type Written<T> = T & { rev: string };
