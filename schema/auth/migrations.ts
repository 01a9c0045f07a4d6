import type { Migration } from "../migrations";

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
	{
		version: 2,
		name: "customers, token restrictions, per-token objects, two-factor, audit log",
		sql: `
			-- Named holders of customer keys; suspending one (active = 0) stops all its keys.
			CREATE TABLE customers (
				name TEXT PRIMARY KEY,
				active INTEGER NOT NULL DEFAULT 1,
				created_at TEXT NOT NULL
			);

			ALTER TABLE tokens ADD COLUMN customer TEXT REFERENCES customers(name);
			-- JSON array of CIDR ranges the token may be used from; NULL: anywhere.
			ALTER TABLE tokens ADD COLUMN cidr TEXT;
			ALTER TABLE tokens ADD COLUMN readonly INTEGER NOT NULL DEFAULT 0;
			-- JSON { packages, scopes }: an npm granular token limited to part of its user's grants.
			ALTER TABLE tokens ADD COLUMN restrict_to TEXT;
			ALTER TABLE tokens ADD COLUMN bypass_two_factor INTEGER NOT NULL DEFAULT 0;
			-- 'admin' (admin API), 'login' (npm login) or 'npm' (npm token create).
			ALTER TABLE tokens ADD COLUMN origin TEXT NOT NULL DEFAULT 'admin';
			-- Bumped on every change to what the token may do; per-token objects keep the newest.
			ALTER TABLE tokens ADD COLUMN version INTEGER NOT NULL DEFAULT 1;

			-- Per-token objects (TokenDO, one per token hash) hold what the hot path checks. A change
			-- queues the hashes whose objects must learn it; the queue drains now, or on the alarm.
			CREATE TABLE token_pushes (
				hash TEXT PRIMARY KEY,
				token_id TEXT NOT NULL,
				version INTEGER NOT NULL
			);
			INSERT INTO token_pushes (hash, token_id, version)
				SELECT hash, id, version FROM tokens WHERE revoked_at IS NULL;

			ALTER TABLE users ADD COLUMN totp_secret TEXT;
			-- The last TOTP time step accepted: a code is never accepted twice.
			ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

			CREATE TABLE scopes (
				scope TEXT PRIMARY KEY,
				require_two_factor INTEGER NOT NULL DEFAULT 0
			);

			-- Registry-level events: tokens, grants, users, customers, policies, failed authentications.
			CREATE TABLE audit (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				at TEXT NOT NULL,
				action TEXT NOT NULL,
				actor TEXT NOT NULL,
				prefix TEXT,
				ip TEXT,
				target TEXT,
				detail TEXT
			);
			CREATE INDEX audit_by_actor ON audit (actor, id);
			CREATE INDEX audit_by_target ON audit (target, id);
		`,
	},
	{
		version: 3,
		name: "failed credentials per user and address; token records that say whether they are limited",
		sql: `
			-- Failed passwords and one-time codes in the current window, per 'user:{name}' and 'ip:{address}'.
			CREATE TABLE credential_failures (
				subject TEXT PRIMARY KEY,
				window_start INTEGER NOT NULL,
				failures INTEGER NOT NULL
			) WITHOUT ROWID;

			-- Token records now say whether the token is read-only or restricted: push them all again.
			INSERT INTO token_pushes (hash, token_id, version)
				SELECT hash, id, version FROM tokens WHERE revoked_at IS NULL
				ON CONFLICT (hash) DO NOTHING;
		`,
	},
	{
		version: 4,
		name: "retention of pre-release versions, per scope and registry-wide",
		sql: `
			-- Days a pre-release version is kept; NULL: the registry's default (settings).
			ALTER TABLE scopes ADD COLUMN prerelease_retention_days INTEGER;

			-- Registry-wide settings the admin API changes (the retention default).
			CREATE TABLE settings (
				name TEXT PRIMARY KEY,
				value TEXT NOT NULL
			);
		`,
	},
	{
		version: 5,
		name: "figures of the upstream registries",
		sql: `
			-- Per upstream, the sums of what the package objects report (schema/upstream.ts
			-- UpstreamActivity): requests answered from their copies or by asking upstream, failed
			-- requests with the last error, and what is stored (documents, tarballs in R2).
			CREATE TABLE upstream_figures (
				upstream TEXT PRIMARY KEY,
				document_hits INTEGER NOT NULL DEFAULT 0,
				document_misses INTEGER NOT NULL DEFAULT 0,
				tarball_hits INTEGER NOT NULL DEFAULT 0,
				tarball_misses INTEGER NOT NULL DEFAULT 0,
				failures INTEGER NOT NULL DEFAULT 0,
				last_error TEXT,
				last_error_at TEXT,
				last_error_package TEXT,
				documents INTEGER NOT NULL DEFAULT 0,
				document_bytes INTEGER NOT NULL DEFAULT 0,
				tarballs INTEGER NOT NULL DEFAULT 0,
				tarball_bytes INTEGER NOT NULL DEFAULT 0
			) WITHOUT ROWID;
		`,
	},
	{
		version: 6,
		name: "trusted publishers, exchanged ID tokens, tokens of trusted publishers, the index of staged versions",
		sql: `
			-- npm trust: which CI workflows may publish (or stage) a package; claims and permissions are JSON.
			CREATE TABLE trusted_publishers (
				id TEXT PRIMARY KEY,
				package TEXT NOT NULL,
				type TEXT NOT NULL,
				claims TEXT NOT NULL,
				permissions TEXT NOT NULL,
				created_at TEXT NOT NULL,
				created_by TEXT NOT NULL
			);
			CREATE INDEX trusted_publishers_by_package ON trusted_publishers (package);

			-- ID tokens already exchanged (their jti, or their hash), kept until they expire: each is exchanged once.
			CREATE TABLE exchanged_id_tokens (
				key TEXT PRIMARY KEY,
				expires INTEGER NOT NULL
			) WITHOUT ROWID;

			-- A token exchanged for an ID token: what it may do and where it came from (JSON TrustedPublisher).
			ALTER TABLE tokens ADD COLUMN trusted_publisher TEXT;

			-- Staged versions by id, for npm stage list/view/approve, which name no package: the versions
			-- themselves (manifest, bytes) are in their package's object; this is only where to find them.
			CREATE TABLE staged_versions (
				id TEXT PRIMARY KEY,
				package TEXT NOT NULL,
				version TEXT NOT NULL,
				item TEXT NOT NULL,
				created_at TEXT NOT NULL,
				expires_at TEXT NOT NULL
			);
			CREATE INDEX staged_versions_by_package ON staged_versions (package, created_at);
		`,
	},
	{
		version: 7,
		name: "organisations: members with roles, teams, team grants",
		sql: `
			-- An org owns a scope (acme owns @acme/*). members_read: every member may read its packages.
			CREATE TABLE orgs (
				name TEXT PRIMARY KEY,
				members_read INTEGER NOT NULL DEFAULT 1,
				created_at TEXT NOT NULL
			);

			CREATE TABLE org_members (
				org TEXT NOT NULL REFERENCES orgs(name),
				user_name TEXT NOT NULL REFERENCES users(name),
				role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'developer')),
				added_at TEXT NOT NULL,
				PRIMARY KEY (org, user_name)
			) WITHOUT ROWID;
			CREATE INDEX org_members_by_user ON org_members (user_name);

			CREATE TABLE teams (
				org TEXT NOT NULL REFERENCES orgs(name),
				name TEXT NOT NULL,
				description TEXT,
				created_at TEXT NOT NULL,
				PRIMARY KEY (org, name)
			) WITHOUT ROWID;

			-- Team members are members of the team's org: leaving the org leaves its teams.
			CREATE TABLE team_members (
				org TEXT NOT NULL,
				team TEXT NOT NULL,
				user_name TEXT NOT NULL,
				PRIMARY KEY (org, team, user_name)
			) WITHOUT ROWID;
			CREATE INDEX team_members_by_user ON team_members (user_name);

			-- A team's grant on one package of its org's scope, or on the whole scope.
			CREATE TABLE team_grants (
				org TEXT NOT NULL,
				team TEXT NOT NULL,
				subject_kind TEXT NOT NULL CHECK (subject_kind IN ('package', 'scope')),
				subject TEXT NOT NULL,
				permissions TEXT NOT NULL,
				PRIMARY KEY (org, team, subject_kind, subject)
			) WITHOUT ROWID;
		`,
	},
];
