import type { Migration } from "../durable-objects/migrations";

// SQLite schema of the AuthStoreDO: users, tokens and grants. Secrets are never stored: tokens
// as their SHA-256, passwords as salted PBKDF2. Append only.

export const authStoreMigrations: readonly Migration[] = [
	{
		version: 1,
		name: "users, tokens and grants",
		sql: `
			CREATE TABLE users (
				name TEXT PRIMARY KEY,
				email TEXT,
				password_hash TEXT NOT NULL,
				password_salt TEXT NOT NULL,
				password_iterations INTEGER NOT NULL,
				created_at TEXT NOT NULL
			);

			CREATE TABLE tokens (
				id TEXT PRIMARY KEY,
				hash TEXT NOT NULL UNIQUE,
				prefix TEXT NOT NULL,
				kind TEXT NOT NULL CHECK (kind IN ('developer', 'customer', 'admin')),
				name TEXT NOT NULL,
				-- Set for tokens that act as a user (npm login): they carry that user's grants.
				user_name TEXT REFERENCES users(name),
				created_at TEXT NOT NULL,
				expires_at TEXT,
				revoked_at TEXT,
				last_used_at TEXT
			);

			-- A grant gives a token or a user permissions on one package or on every package of a scope.
			CREATE TABLE grants (
				holder_kind TEXT NOT NULL CHECK (holder_kind IN ('token', 'user')),
				holder TEXT NOT NULL,
				subject_kind TEXT NOT NULL CHECK (subject_kind IN ('package', 'scope')),
				subject TEXT NOT NULL,
				permissions TEXT NOT NULL,
				PRIMARY KEY (holder_kind, holder, subject_kind, subject)
			) WITHOUT ROWID;
		`,
	},
];
