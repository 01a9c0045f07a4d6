// An object's schema as its database records it, for the tests of migrations and schema parts.

/** A database's schema as SQLite records it, and the steps recorded as applied. */
export function schemaOf(sql: SqlStorage) {
	const master = sql
		.exec<{ type: string; name: string; tbl_name: string; sql: string | null }>(
			`SELECT type, name, tbl_name, sql FROM sqlite_master
			 WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY type, name`,
		)
		.toArray();
	const applied = sql
		.exec<{ version: number; name: string }>("SELECT version, name FROM _migrations ORDER BY version")
		.toArray()
		.map((row) => [row.version, row.name]);
	return { master, applied };
}
