import type { Migration } from "../migrations";

// SQLite schema of the RegistryIndexDO: one row per package with what search shows and ranks by,
// and an FTS5 table over its text. Derived state: POST /-/admin/reindex rebuilds it all.

export const registryIndexMigrations: readonly Migration[] = [
	{
		version: 1,
		name: "packages, keywords, maintainers and the full-text index",
		sql: `
			CREATE TABLE packages (
				rowid INTEGER PRIMARY KEY,
				name TEXT NOT NULL UNIQUE,
				scope TEXT,
				version TEXT NOT NULL,
				description TEXT NOT NULL,
				keywords TEXT NOT NULL,
				author TEXT,
				publisher TEXT NOT NULL,
				maintainers TEXT NOT NULL,
				links TEXT NOT NULL,
				date TEXT NOT NULL,
				access TEXT NOT NULL CHECK (access IN ('public', 'restricted')),
				deprecated TEXT,
				quality REAL NOT NULL,
				weekly_downloads INTEGER NOT NULL DEFAULT 0,
				-- log-scaled weekly downloads in [0, 1], kept here so ORDER BY needs no math functions
				popularity REAL NOT NULL DEFAULT 0,
				-- the package object's revision this row reflects: older notifications are ignored
				rev INTEGER NOT NULL,
				-- which rebuild wrote the row (reindex drops rows an entire rebuild did not see)
				generation INTEGER NOT NULL DEFAULT 0
			);
			CREATE INDEX packages_by_scope ON packages (scope);
			CREATE INDEX packages_by_popularity ON packages (popularity DESC);

			CREATE TABLE package_keywords (
				name TEXT NOT NULL,
				keyword TEXT NOT NULL,
				PRIMARY KEY (keyword, name)
			) WITHOUT ROWID;

			CREATE TABLE package_maintainers (
				name TEXT NOT NULL,
				username TEXT NOT NULL,
				PRIMARY KEY (username, name)
			) WITHOUT ROWID;

			-- rowid = packages.rowid. Column order matters: bm25() weights are given in this order.
			CREATE VIRTUAL TABLE packages_fts USING fts5(
				name, scope, keywords, description, author, maintainers, readme,
				tokenize = 'unicode61 remove_diacritics 2',
				prefix = '2 3'
			);

			CREATE TABLE reindex (
				singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
				generation INTEGER NOT NULL,
				state TEXT NOT NULL CHECK (state IN ('idle', 'running')),
				cursor TEXT,
				scope_cursor TEXT,
				seen INTEGER NOT NULL DEFAULT 0,
				started_at TEXT,
				finished_at TEXT
			);
			INSERT INTO reindex (singleton, generation, state) VALUES (1, 0, 'idle');
		`,
	},
	{
		version: 2,
		name: "indexed author and publisher names for the author: qualifier",
		sql: `
			ALTER TABLE packages ADD COLUMN author_name TEXT;
			ALTER TABLE packages ADD COLUMN publisher_name TEXT;
			UPDATE packages SET
				author_name = lower(json_extract(author, '$.name')),
				publisher_name = lower(json_extract(publisher, '$.username'));
			CREATE INDEX packages_by_author ON packages (author_name);
			CREATE INDEX packages_by_publisher ON packages (publisher_name);
		`,
	},
	{
		version: 3,
		name: "objects swept by a rebuild",
		sql: `ALTER TABLE reindex ADD COLUMN swept INTEGER NOT NULL DEFAULT 0;`,
	},
	{
		version: 4,
		name: "registry-wide figures for the dashboard and the home page",
		sql: `
			ALTER TABLE packages ADD COLUMN version_count INTEGER NOT NULL DEFAULT 0;
			-- When the package's newest version was published (date moves with every change).
			ALTER TABLE packages ADD COLUMN published_at TEXT;
			UPDATE packages SET published_at = date;
			CREATE INDEX packages_by_published ON packages (published_at DESC);

			-- Each package's downloads of its last days, as it last pushed them: the dashboard sums them.
			CREATE TABLE package_downloads (
				day TEXT NOT NULL,
				name TEXT NOT NULL,
				downloads INTEGER NOT NULL,
				PRIMARY KEY (day, name)
			) WITHOUT ROWID;
			CREATE INDEX package_downloads_by_name ON package_downloads (name);
		`,
	},
	{
		version: 5,
		name: "packages unpublished entirely, for the export",
		sql: `
			-- Gone from search, but not from the registry: their audit trail and the version numbers
			-- that may never come back are exported (GET /-/admin/export walks packages and these).
			CREATE TABLE departed (
				name TEXT PRIMARY KEY,
				scope TEXT
			) WITHOUT ROWID;
		`,
	},
	{
		version: 6,
		name: "dependents: which packages' latest versions depend on a name",
		sql: `
			-- One row per (dependency, dependent): the dependent's latest version lists the dependency
			-- under dependencies, peerDependencies or optionalDependencies (the first of these names
			-- the kind). Rewritten with the dependent's row, dropped with it.
			CREATE TABLE package_dependencies (
				dependency TEXT NOT NULL,
				name TEXT NOT NULL,
				kind TEXT NOT NULL CHECK (kind IN ('dependencies', 'peerDependencies', 'optionalDependencies')),
				range TEXT NOT NULL,
				PRIMARY KEY (dependency, name)
			) WITHOUT ROWID;
			CREATE INDEX package_dependencies_by_name ON package_dependencies (name);

			-- Rows written before this table existed have told the index nothing of their dependencies:
			-- the alarm asks each of their package objects again, in pages, from this cursor ('' = the
			-- first name; NULL = nothing to ask).
			ALTER TABLE reindex ADD COLUMN refresh_cursor TEXT;
			UPDATE reindex SET refresh_cursor = '' WHERE EXISTS (SELECT 1 FROM packages);
		`,
	},
];
