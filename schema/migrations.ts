// Schema migrations of a Durable Object's SQLite: an append-only, numbered list. A change to the
// schema is a new step, never an edit of one that has shipped (durable-objects/migrations.ts runs them).

export type Migration = { version: number; name: string; sql: string };

/**
 * The schema after every step up to `version`, in one script: what a database created now gets
 * instead of running those steps one by one (the same tables, recorded as applied). Generated from
 * the steps, never edited by hand; the steps stay the truth for databases that already exist.
 */
export type SquashedSchema = { version: number; sql: string };

/**
 * A part of a squashed schema that a new database may get alone, first (`part`: the statements of
 * its `tables`), and the statements that complete it (`rest`); `steps` bring a database holding
 * only the part forward from an older script, as they apply to its tables.
 */
export type SchemaPart = {
	tables: readonly string[];
	part: SquashedSchema;
	rest: SquashedSchema;
	steps: readonly Migration[];
};
