import type { Migration } from "../migrations";

// SQLite schema of a TokenDO (one object per token hash): the token's current record, as the
// AuthStoreDO last pushed it, and the version of that push; the web sessions signed out.

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
	{
		version: 2,
		name: "web sessions signed out",
		sql: `
			-- A session id (worker/web/session.ts) whose sign-out ended it while the token lives on;
			-- kept until the session would have expired anyway (seconds since the epoch).
			CREATE TABLE ended_sessions (
				id TEXT PRIMARY KEY,
				expires INTEGER NOT NULL
			);
		`,
	},
];
