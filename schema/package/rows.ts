// Row types of a PackageMetadataDO's SQLite tables (schema/package/migrations.ts).

export type PackageRow = {
	name: string;
	package_id: string;
	access: "public" | "restricted";
	created_at: string;
	modified_at: string;
	rev: number;
	rev_hash: string;
	base_placeholder: string;
	unpublished_at: string | null;
	require_two_factor: number;
};

export type VersionRow = {
	version: string;
	version_id: string;
	manifest: string;
	integrity: string;
	shasum: string;
	tarball_key: string;
	tarball_size: number;
	files_key: string;
	file_count: number;
	unpacked_size: number;
	entry_path: string | null;
	entry_integrity: string | null;
	readme: string | null;
	readme_filename: string | null;
	deprecated: string | null;
	published_at: string;
	published_by: string;
	/** JSON RegistrySignature[]; null until signed. */
	signatures: string | null;
};

/** A version as it is inserted: everything but the deprecation, which only a later write sets. */
export type VersionInsert = Omit<VersionRow, "deprecated">;

/**
 * `upload`: `latest` moved by an upload on its own (latest-follows.ts), not by a publisher.
 * `promote`: a move to the version another channel pointed at (detail: `{ from }`). `rollback`: a
 * row beside the chain recording that the pointer went back to an earlier row (detail: `{ from, to }`).
 */
export type HistoryEvent =
	| "move"
	| "upload"
	| "promote"
	| "rollback"
	| "rollout.start"
	| "rollout.change"
	| "rollout.complete"
	| "rollout.revert";

export type HistoryRow = {
	id: number;
	channel: string;
	version: string;
	previous_history_id: number | null;
	at: string;
	by: string;
	event: HistoryEvent;
	detail: string | null;
};

export type RolloutRow = {
	channel: string;
	version: string;
	percent: number;
	salt: string;
	started_at: string;
	started_by: string;
};

export type OutboxRow = { delivered_rev: number; delivered_weekly: number; delivered_at: number; failures: number };

export type ClaimRow = { name: string; claimed_at: string; claimed_by: string };

export type UpstreamDocumentRow = {
	form: "full" | "abbreviated";
	name: string;
	upstream: string;
	status: 200 | 404;
	upstream_etag: string | null;
	etag: string;
	modified: string;
	placeholder: string;
	size: number;
	fetched_at: number;
	failed_at: number | null;
	last_error: string | null;
};

export type UpstreamVersionRow = {
	version: string;
	upstream: string;
	url: string;
	integrity: string | null;
	shasum: string | null;
};

export type UpstreamTarballRow = {
	version: string;
	upstream: string;
	key: string;
	size: number;
	integrity: string;
	stored_at: string;
};
