import type { Migration } from "../schema/migrations";

// Runs an object's schema migrations (schema/*/migrations.ts): pending steps in one transaction,
// the applied version recorded inside the object in `_migrations`, so no request ever sees a
// half-migrated object.

export function applyMigrations(storage: DurableObjectStorage, migrations: readonly Migration[]): number {
	const sql = storage.sql;
	sql.exec(
		"CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
	);
	const row = sql.exec<{ version: number | null }>("SELECT max(version) AS version FROM _migrations").one();
	const current = row.version ?? 0;
	const pending = migrations.filter((m) => m.version > current).sort((a, b) => a.version - b.version);
	if (pending.length === 0) return current;
	storage.transactionSync(() => {
		for (const migration of pending) {
			sql.exec(migration.sql);
			sql.exec(
				"INSERT INTO _migrations (version, name, applied_at) VALUES (?, ?, ?)",
				migration.version,
				migration.name,
				new Date().toISOString(),
			);
		}
	});
	return pending.at(-1)?.version ?? current;
}
