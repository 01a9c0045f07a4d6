import {
	DUMP_PAGE_BYTES,
	DUMP_PAGE_ROWS,
	type DumpCursor,
	type HookRows,
	type RestoredRows,
} from "../../schema/backup/contract";
import type { Result } from "../../schema/errors";
import { refusals } from "../../schema/refusals";
import { isSealed, seal } from "../auth/sealing";
import { schemaVersion } from "../schema-version";
import { dumpTables, insertRows, type TableSpec } from "../table-dump";

// The package hooks' definitions for the export archive, and their restore (schema/backup/contract.ts,
// DESIGN.md invariant 13): whose hook, on what (package, scope or owner), its endpoint, its secret
// sealed under ENCRYPTION_KEY as TOTP seeds are (one stored before sealing is sealed on its way
// out), and its delivery status, so `npm hook ls` reads the same after a restore. The events not
// yet delivered live in the package objects' outboxes and stay (PACKAGE_TABLES_KEPT_BACK).
// A hook already here (by id) is kept as it is: a restore adds what is missing and overwrites nothing.

export const HOOK_TABLES: readonly TableSpec[] = [{ name: "hooks", order: "id" }];

/** The HooksDO's tables that stay behind, and why (tests/export-coverage.test.ts): none. */
export const HOOK_TABLES_KEPT_BACK: Readonly<Record<string, string>> = {};

const TABLE_NAMES = HOOK_TABLES.map((t) => t.name);

/** One page of the hooks' rows; a secret stored before sealing is sealed on its way out. */
export async function exportHooks(
	sql: SqlStorage,
	encryptionKey: string,
	cursor: DumpCursor,
): Promise<{ item: HookRows; next: DumpCursor | null }> {
	const page = dumpTables(sql, HOOK_TABLES, cursor, { bytes: DUMP_PAGE_BYTES, rows: DUMP_PAGE_ROWS });
	for (const { rows } of page.tables) {
		for (const row of rows) {
			const secret = row.secret;
			if (typeof secret === "string" && !isSealed(secret)) row.secret = await seal(encryptionKey, secret);
		}
	}
	return {
		item: { kind: "hooks", schema: schemaVersion(sql), tables: page.tables, final: page.next === null },
		next: page.next,
	};
}

/** Writes a page of hooks that are not here yet (by id), after checking its tables and columns. */
export function restoreHooks(sql: SqlStorage, item: HookRows): Result<RestoredRows> {
	const here = schemaVersion(sql);
	if (item.schema > here) return refusals.restoreNewerSchema("the hooks object", item.schema, here);
	return insertRows(sql, TABLE_NAMES, item.tables);
}
