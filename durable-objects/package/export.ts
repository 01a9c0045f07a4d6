import {
	DUMP_PAGE_BYTES,
	DUMP_PAGE_ROWS,
	type DumpCursor,
	type PackageHead,
	type PackageRows,
	type RestoredRows,
	type RestoreVerdict,
} from "../../schema/backup/contract";
import { ok, type Result } from "../../schema/errors";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import { refusals } from "../../schema/refusals";
import { schemaVersion } from "../schema-version";
import { dumpTables, insertRows, type TableSpec } from "../table-dump";
import { revision } from "./package-record";

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

/** The head of a package's export: its revision and its versions with their bytes' keys. */
export function exportHead(sql: SqlStorage, pkg: PackageRow, versions: VersionRow[]): PackageHead {
	return {
		kind: "package",
		name: pkg.name,
		rev: revision(pkg),
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
	pkg: PackageRow,
	rev: string,
	cursor: DumpCursor,
): Result<{ item: PackageRows; next: DumpCursor | null }> {
	if (revision(pkg) !== rev) return refusals.exportChanged(pkg.name);
	const page = dumpTables(sql, PACKAGE_TABLES, cursor, { bytes: DUMP_PAGE_BYTES, rows: DUMP_PAGE_ROWS });
	const item: PackageRows = {
		kind: "rows",
		name: pkg.name,
		rev,
		schema: schemaVersion(sql),
		tables: page.tables,
		final: page.next === null,
	};
	return ok({ item, next: page.next });
}

/**
 * How a restore finds the package here: not here (what an earlier restore cut short left is
 * cleared), every exported version here with the same bytes (present), or versions missing or
 * with other bytes (a conflict: nothing is changed, a package here is never overwritten).
 */
export function beginRestore(sql: SqlStorage, head: PackageHead, existing: PackageRow | null): Result<RestoreVerdict> {
	const here = schemaVersion(sql);
	if (head.schema > here) return refusals.restoreNewerSchema(head.name, head.schema, here);
	if (existing === null) {
		// In reverse: a channel goes before the history rows it points into.
		for (const table of [...TABLE_NAMES].reverse()) sql.exec(`DELETE FROM ${table}`);
		return ok({ state: "fresh" });
	}
	const stored = new Map(
		sql
			.exec<{ version: string; integrity: string }>(`SELECT version, integrity FROM versions`)
			.toArray()
			.map((v) => [v.version, v.integrity]),
	);
	const conflicts = head.versions.flatMap((v) => {
		const integrity = stored.get(v.version);
		if (integrity === v.integrity) return [];
		const reason =
			integrity === undefined
				? "the package is here without this version: a restore never merges into a package that exists"
				: "different bytes here";
		return [{ version: v.version, reason }];
	});
	return ok(conflicts.length === 0 ? { state: "present" } : { state: "conflict", conflicts });
}

/** Writes a page of a restore begun here; refused when the package already exists (restored or not). */
export function restoreRows(sql: SqlStorage, item: PackageRows, existing: PackageRow | null): Result<RestoredRows> {
	const here = schemaVersion(sql);
	if (item.schema > here) return refusals.restoreNewerSchema(item.name, item.schema, here);
	if (existing !== null) return refusals.restoreOutOfOrder(item.name);
	const named = item.tables.find((t) => t.table === "package")?.rows[0]?.name;
	if (named !== undefined && named !== item.name) return refusals.restoreInvalid(`the package row names ${named}`);
	if (item.final && named === undefined)
		return refusals.restoreInvalid(`the last page of ${item.name} has no package row`);
	return insertRows(sql, TABLE_NAMES, item.tables);
}
