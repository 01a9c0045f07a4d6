// Schema migrations of a Durable Object's SQLite: an append-only, numbered list. A change to the
// schema is a new step, never an edit of one that has shipped (durable-objects/migrations.ts runs them).

export type Migration = { version: number; name: string; sql: string };
