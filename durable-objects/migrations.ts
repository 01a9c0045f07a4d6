import type { Migration, SquashedSchema } from "../schema/migrations";

// Runs an object's schema migrations (schema/*/migrations.ts): pending steps in one transaction,
// the applied version recorded inside the object in `_migrations`, so no request ever sees a
// half-migrated object. Objects that anyone can address by name (a package name, a token hash)
// migrate on their first write only: a read of something that was never written creates no
// storage (see `Schema`). A new database may be given the schema in one script instead
// (`squashed`): creating a package object's ~20 tables step by step is most of the cost of a name's
// first write, which an install through the upstream pays once per package (#25).

export function applyMigrations(
	storage: DurableObjectStorage,
	migrations: readonly Migration[],
	squashed?: SquashedSchema,
): number {
	const sql = storage.sql;
	sql.exec(
		"CREATE TABLE IF NOT EXISTS _migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
	);
	// Every step not recorded yet, not only those above the highest: steps written on branches that
	// land in another order than their numbers (a 4 after a 6) must still run, once.
	const applied = new Set(
		sql
			.exec<{ version: number }>("SELECT version FROM _migrations")
			.toArray()
			.map((r) => r.version),
	);
	const current = Math.max(0, ...applied);
	const pending = migrations.filter((m) => !applied.has(m.version)).sort((a, b) => a.version - b.version);
	if (pending.length === 0) return current;
	// Only a database no step ever ran on: the script creates what the steps up to its version would.
	const squash = squashed && applied.size === 0 ? squashed : null;
	storage.transactionSync(() => {
		if (squash) sql.exec(squash.sql);
		for (const migration of pending) {
			if (!squash || migration.version > squash.version) sql.exec(migration.sql);
			sql.exec(
				"INSERT INTO _migrations (version, name, applied_at) VALUES (?, ?, ?)",
				migration.version,
				migration.name,
				new Date().toISOString(),
			);
		}
	});
	return Math.max(current, ...pending.map((m) => m.version));
}

/**
 * An object's schema, created on first use: `ready` says whether anything was ever written, and
 * `ensure()` migrates (creating the database) before a write. Reading `sqlite_master` creates no
 * storage, so an object that is only ever read costs nothing and leaves nothing behind.
 */
export class Schema {
	private created: boolean;

	constructor(
		private readonly storage: DurableObjectStorage,
		private readonly migrations: readonly Migration[],
		private readonly squashed?: SquashedSchema,
	) {
		this.created =
			storage.sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'`).toArray().length >
			0;
		if (this.created) applyMigrations(storage, migrations);
	}

	get ready(): boolean {
		return this.created;
	}

	ensure(): void {
		if (this.created) return;
		applyMigrations(this.storage, this.migrations, this.squashed);
		this.created = true;
	}
}
