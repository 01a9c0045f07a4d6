import type { Migration } from "../migrations";

// SQLite schema of a TokenDO (one object per token hash): the token's current record, as the
// AuthStoreDO last pushed it, and the version of that push.

export const tokenMigrations: readonly Migration[] = [
	{
		version: 1,
		name: "the token's record",
		sql: `
			CREATE TABLE token (
				singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
				version INTEGER NOT NULL,
				-- JSON TokenRecord; NULL once the token is revoked, rotated away or suspended.
				record TEXT
			);
		`,
	},
];
