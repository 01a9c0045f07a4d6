/** The highest schema step applied to an object (0 before its first write): what its rows follow. */
export function schemaVersion(sql: SqlStorage): number {
	const exists = sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'`).toArray();
	if (exists.length === 0) return 0;
	return sql.exec<{ v: number | null }>(`SELECT max(version) AS v FROM _migrations`).one().v ?? 0;
}
