import {
	DUMP_PAGE_BYTES,
	DUMP_PAGE_ROWS,
	type DumpCursor,
	type PackageHead,
	type PackageRows,
	type RestoredRows,
	type RestoreVerdict,
	type Row,
} from "../../schema/backup/contract";
import { ok, type Result } from "../../schema/errors";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import { refusals } from "../../schema/refusals";
import { schemaVersion } from "../schema-version";
import { dumpTables, insertRows, type TableSpec } from "../table-dump";
import { revision } from "./package-record";
import { beginMerge, type MergePlan, mergeKeys, mergeRows } from "./restore-merge";

// A package's state for the export archive, and its restore (schema/backup/contract.ts). What is
// exported is the package's own rows; stored packuments, the search outbox, retention checks and
// upstream copies are derived or cached and rebuilt. The package row comes last: a restore writes
// every other row first, so the package exists (and is served) only once all of it is there, and
// a restore cut short leaves rows that no read sees and that the next restore clears.

/** Restore order: channels after the history they point into; the package row last. */
export const PACKAGE_TABLES: readonly TableSpec[] = [
	// At most 200 versions a page: the Worker checks each page's versions have their bytes in R2.
	{ name: "versions", order: "version", pageRows: 200 },
	{ name: "version_readmes", order: "version" },
	{ name: "files", order: "version, path" },
	{ name: "removed_versions", order: "version" },
	{ name: "channel_history", order: "id" },
	{ name: "channels", order: "name" },
	{ name: "rollouts", order: "channel" },
	{ name: "maintainers", order: "name" },
	{ name: "downloads", order: "day, version" },
	{ name: "audit", order: "id" },
	{ name: "claim", order: "singleton" },
	{ name: "package", order: "singleton" },
];

/**
 * The package object's tables that stay behind, and why (tests/export-coverage.test.ts holds every
 * table of the schema to being exported or named here).
 */
export const PACKAGE_TABLES_KEPT_BACK: Readonly<Record<string, string>> = {
	version_documents: "each version's pieces of the packuments: built again from the version rows on first use",
	version_documents_due: "which versions' pieces are still to be built: a restored version row marks its own",
	index_outbox: "what the search index last heard: the alarm tells it again",
	retention_checks: "when retention last looked: it looks again",
	upstream_documents: "copies of an upstream's packuments: fetched again on demand",
	upstream_document_chunks: "copies of an upstream's packuments: fetched again on demand",
	upstream_versions: "copies of an upstream's versions: fetched again on demand",
	upstream_tarballs: "copies of an upstream's tarballs: fetched again on demand",
	hook_outbox: "package hook events not yet delivered: pending work of this instance, like its alarm's",
	hook_deliveries: "package hook deliveries not yet made: pending work of this instance, like its alarm's",
	staged: "staged versions (npm stage): their bytes are not exported, they expire in STAGE_TTL_DAYS",
	staged_parts: "staged versions (npm stage): their bytes are not exported, they expire in STAGE_TTL_DAYS",
};

const TABLE_NAMES = PACKAGE_TABLES.map((t) => t.name);

/** The revision of a name only claimed (no package row): its claim and trail are exported all the same. */
export const CLAIMED_REV = "0-claimed";

/** The package's revision, or CLAIMED_REV for a name only claimed; null when neither. */
export function exportRevision(pkg: PackageRow | null, claimed: boolean): string | null {
	return pkg ? revision(pkg) : claimed ? CLAIMED_REV : null;
}

/** The head of a package's export: its revision and its versions with their bytes' keys. */
export function exportHead(sql: SqlStorage, name: string, rev: string, versions: VersionRow[]): PackageHead {
	return {
		kind: "package",
		name,
		rev,
		schema: schemaVersion(sql),
		versions: versions.map((v) => ({
			version: v.version,
			integrity: v.integrity,
			shasum: v.shasum,
			tarballKey: v.tarball_key,
			tarballSize: v.tarball_size,
			filesKey: v.files_key,
		})),
	};
}

/** One page of the package's rows from `cursor`; refused once the package moved past `rev`. */
export function exportRows(
	sql: SqlStorage,
	name: string,
	current: string,
	rev: string,
	cursor: DumpCursor,
): Result<{ item: PackageRows; next: DumpCursor | null }> {
	if (current !== rev) return refusals.exportChanged(name);
	const page = dumpTables(sql, PACKAGE_TABLES, cursor, { bytes: DUMP_PAGE_BYTES, rows: DUMP_PAGE_ROWS });
	const item: PackageRows = {
		kind: "rows",
		name,
		rev,
		schema: schemaVersion(sql),
		tables: page.tables,
		final: page.next === null,
	};
	return ok({ item, next: page.next });
}

/**
 * How a restore finds the package here: not here (what an earlier restore cut short left is
 * cleared), every exported version here with the same bytes (present), or here lacking versions
 * the archive has (merge: restore-merge.ts adds them; versions here with other bytes are conflicts).
 */
export function beginRestore(
	sql: SqlStorage,
	kv: SyncKvStorage,
	head: PackageHead,
	existing: PackageRow | null,
): Result<RestoreVerdict> {
	const here = schemaVersion(sql);
	if (head.schema > here) return refusals.restoreNewerSchema(head.name, head.schema, here);
	if (existing === null) {
		// In reverse: a channel goes before the history rows it points into. A claim made here stays.
		for (const table of [...TABLE_NAMES].reverse())
			if (table !== "claim" && table !== "audit") sql.exec(`DELETE FROM ${table}`);
		if (sql.exec(`SELECT 1 FROM claim`).toArray().length === 0) sql.exec(`DELETE FROM audit`);
		return ok({ state: "fresh" });
	}
	return ok(beginMerge(sql, kv, head));
}

/** The R2 keys a page of rows will point at: they must be here before the rows are written. */
export function restoreKeys(kv: SyncKvStorage, item: PackageRows, existing: PackageRow | null): string[] {
	if (existing !== null) return mergeKeys(kv, item);
	const versions = item.tables.find((t) => t.table === "versions")?.rows ?? [];
	return versions.flatMap((row) => [String(row.tarball_key), String(row.files_key)]);
}

/**
 * Writes a page of a restore begun here: into a package not here, every row (its package row
 * last); into one here, what its merge takes (`merged` once the last page is in).
 */
export function restoreRows(
	sql: SqlStorage,
	kv: SyncKvStorage,
	item: PackageRows,
	existing: PackageRow | null,
): Result<RestoredRows & { merged?: MergePlan }> {
	const here = schemaVersion(sql);
	if (item.schema > here) return refusals.restoreNewerSchema(item.name, item.schema, here);
	const named = item.tables.find((t) => t.table === "package")?.rows[0]?.name;
	if (named !== undefined && named !== item.name) return refusals.restoreInvalid(`the package row names ${named}`);
	if (existing !== null) {
		const merged = mergeRows(sql, kv, TABLE_NAMES, item);
		if (!merged.ok) return merged;
		return ok({ ...merged.value.restored, ...(merged.value.done ? { merged: merged.value.done } : {}) });
	}
	const claimed = item.tables.find((t) => t.table === "claim")?.rows[0]?.name;
	if (item.final && named === undefined && claimed === undefined)
		return refusals.restoreInvalid(`the last page of ${item.name} has no package row`);
	const trail = item.tables.find((t) => t.table === "audit");
	const restored = insertRows(
		sql,
		TABLE_NAMES,
		item.tables.filter((t) => t !== trail),
	);
	if (!restored.ok || trail === undefined) return restored;
	return appendTrail(sql, trail.rows, restored.value);
}

/**
 * The archive's audit rows, where a claim made here already started the trail: a row whose id is
 * taken by another entry is appended after the trail here (unless the same entry is already here),
 * so neither trail loses an entry and a restore run again doubles none.
 */
function appendTrail(sql: SqlStorage, rows: Row[], outcome: RestoredRows): Result<RestoredRows> {
	const inserted = insertRows(sql, TABLE_NAMES, [{ table: "audit", rows }]);
	if (!inserted.ok) return inserted;
	const total = { ...outcome, inserted: outcome.inserted + inserted.value.inserted, present: outcome.present };
	total.present += inserted.value.present;
	if (inserted.value.differing === 0) return ok(total);
	for (const row of rows) {
		const { id: _id, ...entry } = row;
		const names = Object.keys(entry);
		const same = `SELECT 1 FROM audit WHERE ${names.map((n) => `${n} IS ?`).join(" AND ")} LIMIT 1`;
		if (sql.exec(same, ...Object.values(entry)).toArray().length > 0) continue;
		sql.exec(
			`INSERT INTO audit (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`,
			...Object.values(entry),
		);
		total.inserted += 1;
	}
	return ok(total);
}

/** The numbers removed here (unpublished, or by retention), for a migration that copies this package elsewhere. */
export function removedVersions(sql: SqlStorage): { version: string; removedAt: string }[] {
	return sql
		.exec<{ version: string; removed_at: string }>(`SELECT version, removed_at FROM removed_versions ORDER BY version`)
		.toArray()
		.map((r) => ({ version: r.version, removedAt: r.removed_at }));
}
