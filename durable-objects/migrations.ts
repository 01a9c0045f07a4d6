import type { Migration, SchemaPart, SquashedSchema } from "../schema/migrations";

// Runs an object's schema migrations (schema/*/migrations.ts): pending steps in one transaction,
// the applied version recorded inside the object in `_migrations`, so no request ever sees a
// half-migrated object. Objects that anyone can address by name (a package name, a token hash)
// migrate on their first write only: a read of something that was never written creates no
// storage (see `Schema`). A new database may be given the schema in one script instead
// (`squashed`): creating a package object's ~20 tables step by step is most of the cost of a name's
// first write, which an install through the upstream pays once per package (#25). A database may
// also hold only a part of the schema for a while (`SchemaPart`: a package name only ever served
// from upstream keeps only its copies' tables), completed by the rest of the script on the first
// write that needs the whole schema.

/** `also`: run in the same transaction, after the steps (the end of a part's marker). */
export function applyMigrations(
	storage: DurableObjectStorage,
	migrations: readonly Migration[],
	squashed?: SquashedSchema,
	also?: string,
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
		if (also) sql.exec(also);
	});
	return Math.max(current, ...pending.map((m) => m.version));
}

/**
 * An object's schema, created on first use: `ready` says whether anything was ever written, and
 * `ensure()` migrates (creating the database) before a write. Reading `sqlite_master` creates no
 * storage, so an object that is only ever read costs nothing and leaves nothing behind. With a
 * `part`, `ensurePart()` creates only that part's tables (`partReady`), marked by `_schema_part`
 * with the script's version; `ensure()` later completes it with the rest of the script.
 */
export class Schema {
	private created: boolean;
	private partCreated: boolean;

	constructor(
		private readonly storage: DurableObjectStorage,
		private readonly migrations: readonly Migration[],
		private readonly squashed?: SquashedSchema,
		private readonly part?: SchemaPart,
	) {
		const found = storage.sql
			.exec<{ name: string }>(
				`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('_migrations', '_schema_part')`,
			)
			.toArray()
			.map((row) => row.name);
		this.created = found.includes("_migrations");
		this.partCreated = this.created || found.includes("_schema_part");
		if (this.created) applyMigrations(storage, migrations);
		else if (this.partCreated && part) migratePart(storage, part);
	}

	/** The whole schema is there: something of the object's own was written. */
	get ready(): boolean {
		return this.created;
	}

	/** The part's tables are there (alone, or within the whole schema). */
	get partReady(): boolean {
		return this.partCreated;
	}

	ensure(): void {
		if (this.created) return;
		if (this.partCreated && this.part) {
			// The part is at the script's version (migratePart brought it there): the rest completes it.
			applyMigrations(this.storage, this.migrations, this.part.rest, "DROP TABLE _schema_part");
		} else {
			applyMigrations(this.storage, this.migrations, this.squashed);
		}
		this.created = true;
		this.partCreated = true;
	}

	/** Creates the part's tables only (the whole schema when there is no part). */
	ensurePart(): void {
		if (this.partCreated) return;
		const part = this.part;
		if (!part) {
			this.ensure();
			return;
		}
		const sql = this.storage.sql;
		this.storage.transactionSync(() => {
			sql.exec("CREATE TABLE _schema_part (version INTEGER NOT NULL)");
			sql.exec(part.part.sql);
			sql.exec("INSERT INTO _schema_part (version) VALUES (?)", part.part.version);
		});
		this.partCreated = true;
	}
}

/** Brings a database that holds only the part to the part's script version, by the part's own steps. */
function migratePart(storage: DurableObjectStorage, part: SchemaPart): void {
	const at = storage.sql.exec<{ version: number }>("SELECT version FROM _schema_part").one().version;
	if (at >= part.part.version) return;
	// Steps above the script's version are the whole schema's to run (`ensure`), not the part's.
	const pending = part.steps
		.filter((step) => step.version > at && step.version <= part.part.version)
		.sort((a, b) => a.version - b.version);
	storage.transactionSync(() => {
		for (const step of pending) storage.sql.exec(step.sql);
		storage.sql.exec("UPDATE _schema_part SET version = ?", part.part.version);
	});
}
