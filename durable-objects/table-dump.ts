import type { DumpCursor, RestoredRows, Row, TableRows } from "../schema/backup/contract";
import { ok, type Result } from "../schema/errors";
import { refusals } from "../schema/refusals";

// An object's tables as rows, for export and restore (schema/backup/contract.ts): read in pages
// bounded by bytes and rows, so one page stays far below what an RPC answer, a Worker's memory
// and the archive reader may hold, whatever a package has grown to; written back by column name,
// checked against the object's own schema, so an archive can name no table or column but those.

/** A table to dump: its name, the order its rows are read in, and at most how many rows one page takes. */
export type TableSpec = { name: string; order: string; pageRows?: number };

/** One page of rows from `cursor` on, within `bytes` of JSON and `rows` rows (at least one row). */
export function dumpTables(
	sql: SqlStorage,
	specs: readonly TableSpec[],
	cursor: DumpCursor,
	limits: { bytes: number; rows: number },
): { tables: TableRows; next: DumpCursor | null } {
	const tables: TableRows = [];
	let { table, offset } = cursor;
	let bytes = 0;
	let count = 0;
	while (table < specs.length) {
		const spec = specs[table] as TableSpec;
		const room = Math.min(limits.rows - count, spec.pageRows ?? Number.POSITIVE_INFINITY);
		// One query a table, read lazily: rows past the page's bytes are never fetched. Paging by
		// OFFSET skips rows inside SQLite, a small cost beside reading them.
		const rows = sql.exec<Row>(`SELECT * FROM ${spec.name} ORDER BY ${spec.order} LIMIT ? OFFSET ?`, room + 1, offset);
		const taken: Row[] = [];
		let full = false;
		for (const row of rows) {
			const size = JSON.stringify(row).length;
			if (taken.length >= room || (count > 0 && bytes + size > limits.bytes)) {
				full = true;
				break;
			}
			taken.push(row);
			bytes += size;
			count += 1;
			offset += 1;
		}
		if (taken.length > 0) tables.push({ table: spec.name, rows: taken });
		if (full) return { tables, next: { table, offset } };
		table += 1;
		offset = 0;
	}
	return { tables, next: null };
}

/**
 * Inserts the rows of `tables` (each one of `allowed`), by column name; a row whose key is taken
 * is left as it is (counted present when it is the same, differing when not). Refused, before
 * anything is written, for a table or column this object does not have.
 */
export function insertRows(sql: SqlStorage, allowed: readonly string[], tables: TableRows): Result<RestoredRows> {
	const columns = new Map<string, Set<string>>();
	for (const { table, rows } of tables) {
		if (!allowed.includes(table)) return refusals.restoreInvalid(`table ${table} cannot be restored`);
		const known =
			columns.get(table) ??
			new Set(
				sql
					.exec<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, table)
					.toArray()
					.map((c) => c.name),
			);
		columns.set(table, known);
		for (const row of rows) {
			const unknown = Object.keys(row).find((column) => !known.has(column));
			if (unknown !== undefined) return refusals.restoreInvalid(`table ${table} has no column ${unknown}`);
		}
	}
	const outcome: RestoredRows = { inserted: 0, present: 0, differing: 0 };
	for (const { table, rows } of tables) {
		for (const row of rows) {
			const names = Object.keys(row);
			const values = Object.values(row);
			const cursor = sql.exec(
				`INSERT INTO ${table} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")}) ON CONFLICT DO NOTHING`,
				...values,
			);
			if (cursor.rowsWritten > 0) outcome.inserted += 1;
			else if (sameRowExists(sql, table, row)) outcome.present += 1;
			else outcome.differing += 1;
		}
	}
	return ok(outcome);
}

function sameRowExists(sql: SqlStorage, table: string, row: Row): boolean {
	const names = Object.keys(row);
	const where = names.map((name) => `${name} IS ?`).join(" AND ");
	return sql.exec(`SELECT 1 FROM ${table} WHERE ${where} LIMIT 1`, ...Object.values(row)).toArray().length > 0;
}
