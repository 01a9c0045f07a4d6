import { runInDurableObject } from "cloudflare:test";

// Cloudflare refuses any SQLite value over 2 MB; workerd, which runs the tests, accepts it. These
// read every table of an object to find its largest value, so the tests hold the registry to the
// platform's limit (tests/helpers/sqlite-value-limit.ts runs it over every object after each file).

export const MAX_SQLITE_VALUE_BYTES = 2 * 1024 * 1024;

export type LargestValue = { table: string; column: string; bytes: number };

/** The largest value (in bytes, text as UTF-8) in any table of this database, or null if it has none. */
export function largestValue(sql: SqlStorage): LargestValue | null {
	// Virtual tables (FTS5) keep their values in shadow tables, which are read as tables themselves.
	const tables = sql
		.exec<{ name: string }>(
			`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
			 AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' AND sql NOT LIKE 'CREATE VIRTUAL%'`,
		)
		.toArray()
		.map((t) => t.name);
	let largest: LargestValue | null = null;
	for (const table of tables) {
		const columns = sql
			.exec<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, table)
			.toArray()
			.map((c) => c.name);
		if (columns.length === 0) continue;
		const sizes = sql
			.exec<Record<string, number | null>>(
				`SELECT ${columns.map((c, i) => `max(length(CAST(${quote(c)} AS BLOB))) AS c${i}`).join(", ")} FROM ${quote(table)}`,
			)
			.one();
		columns.forEach((column, i) => {
			const bytes = sizes[`c${i}`] ?? 0;
			if (largest === null || bytes > largest.bytes) largest = { table, column, bytes };
		});
	}
	return largest;
}

/** The largest value in a Durable Object's SQLite. */
export function largestValueIn(stub: DurableObjectStub): Promise<LargestValue | null> {
	return runInDurableObject(stub, (_instance, state) => largestValue(state.storage.sql));
}

function quote(identifier: string): string {
	return `"${identifier.replaceAll('"', '""')}"`;
}
