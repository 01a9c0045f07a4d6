import type { Migration } from "../migrations";

// SQLite schema of the HooksDO (one for the registry). Append only.

export const hooksMigrations: readonly Migration[] = [
	{
		version: 1,
		name: "hook definitions and their delivery status",
		sql: `
			-- One row per hook. The secret signs every delivery, so it must be read back: it is kept
			-- sealed under ENCRYPTION_KEY (durable-objects/auth/sealing.ts); the package objects read it
			-- at delivery time and never store it.
			CREATE TABLE hooks (
				id TEXT PRIMARY KEY,
				username TEXT NOT NULL,
				type TEXT NOT NULL CHECK (type IN ('package', 'scope', 'owner')),
				name TEXT NOT NULL,
				endpoint TEXT NOT NULL,
				secret TEXT NOT NULL,
				created_at TEXT NOT NULL,
				updated_at TEXT NOT NULL,
				delivered INTEGER NOT NULL DEFAULT 0,
				last_delivery TEXT,
				response_code INTEGER,
				failures INTEGER NOT NULL DEFAULT 0
			) WITHOUT ROWID;
			CREATE INDEX hooks_by_target ON hooks (type, name);
			CREATE INDEX hooks_by_user ON hooks (username);
		`,
	},
];
