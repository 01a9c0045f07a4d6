import type { Migration } from "../migrations";

// SQLite schema of a PackageMetadataDO (one object per package name). Append only: a change to
// the schema is a new numbered step, never an edit of one that has shipped.

export const packageMetadataMigrations: readonly Migration[] = [
	{
		version: 1,
		name: "versions, channels and their history, files, materialised documents",
		sql: `
			-- The package itself: exactly one row once the first version is published.
			CREATE TABLE package (
				singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
				name TEXT NOT NULL,
				package_id TEXT NOT NULL,
				access TEXT NOT NULL CHECK (access IN ('public', 'restricted')),
				created_at TEXT NOT NULL,
				modified_at TEXT NOT NULL,
				rev INTEGER NOT NULL,
				rev_hash TEXT NOT NULL,
				-- Stands in for the registry's base URL inside stored documents; random, so that no
				-- published text can contain it by accident or on purpose.
				base_placeholder TEXT NOT NULL,
				unpublished_at TEXT
			);

			-- Immutable versions. Only 'deprecated' ever changes after insert.
			CREATE TABLE versions (
				version TEXT PRIMARY KEY,
				version_id TEXT NOT NULL UNIQUE,
				manifest TEXT NOT NULL,
				integrity TEXT NOT NULL,
				shasum TEXT NOT NULL,
				tarball_key TEXT NOT NULL,
				tarball_size INTEGER NOT NULL,
				files_key TEXT NOT NULL,
				file_count INTEGER NOT NULL,
				unpacked_size INTEGER NOT NULL,
				entry_path TEXT,
				entry_integrity TEXT,
				readme TEXT,
				readme_filename TEXT,
				deprecated TEXT,
				published_at TEXT NOT NULL,
				published_by TEXT NOT NULL
			);

			-- Version numbers that were unpublished: never accepted again.
			CREATE TABLE removed_versions (
				version TEXT PRIMARY KEY,
				removed_at TEXT NOT NULL,
				removed_by TEXT NOT NULL
			);

			-- Each move of a channel (npm dist-tag) appends a row linked to the row it replaced.
			CREATE TABLE channel_history (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				channel TEXT NOT NULL,
				version TEXT NOT NULL,
				previous_history_id INTEGER REFERENCES channel_history(id),
				at TEXT NOT NULL,
				by TEXT NOT NULL
			);
			CREATE INDEX channel_history_by_channel ON channel_history (channel, id);
			CREATE INDEX channel_history_by_version ON channel_history (version);

			-- A channel is a pointer into its own history chain.
			CREATE TABLE channels (
				name TEXT PRIMARY KEY,
				current_history_id INTEGER NOT NULL REFERENCES channel_history(id)
			);

			-- Where each file of a version lies inside that version's file bundle in R2.
			CREATE TABLE files (
				version TEXT NOT NULL,
				path TEXT NOT NULL,
				offset INTEGER NOT NULL,
				size INTEGER NOT NULL,
				sha256 TEXT NOT NULL,
				PRIMARY KEY (version, path)
			) WITHOUT ROWID;

			CREATE TABLE maintainers (
				name TEXT PRIMARY KEY,
				email TEXT
			);

			-- The packument, kept materialised so that a read is one row, not a rebuild.
			CREATE TABLE documents (
				kind TEXT PRIMARY KEY CHECK (kind IN ('full', 'abbreviated')),
				body TEXT NOT NULL,
				etag TEXT NOT NULL
			);
		`,
	},
	{
		version: 2,
		name: "download counts and the search index outbox",
		sql: `
			-- Downloads per UTC day and version, flushed from memory on the object's alarm.
			CREATE TABLE downloads (
				day TEXT NOT NULL,
				version TEXT NOT NULL,
				count INTEGER NOT NULL,
				PRIMARY KEY (day, version)
			) WITHOUT ROWID;

			-- What the search index was last told. The alarm delivers whenever package.rev moved past
			-- delivered_rev (or the weekly download total changed), and retries until it succeeds.
			CREATE TABLE index_outbox (
				singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
				delivered_rev INTEGER NOT NULL DEFAULT 0,
				delivered_weekly INTEGER NOT NULL DEFAULT 0,
				delivered_at INTEGER NOT NULL DEFAULT 0,
				failures INTEGER NOT NULL DEFAULT 0
			);
			INSERT INTO index_outbox (singleton) VALUES (1);
		`,
	},
	{
		version: 3,
		name: "audit trail and per-package two-factor requirement",
		sql: `
			-- npm access set mfa=publish: writes to this package need a TOTP code.
			ALTER TABLE package ADD COLUMN require_two_factor INTEGER NOT NULL DEFAULT 0;

			-- Every change to this package: who (user, token prefix), from where, what, to what.
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
		`,
	},
	{
		version: 4,
		name: "each version's README rendered to sanitised HTML",
		sql: `
			-- Rendered once, at publish (worker/web/markdown.ts), so a package page never renders
			-- markdown. Apart from the versions table: packument rebuilds read every version row.
			CREATE TABLE version_readmes (
				version TEXT PRIMARY KEY,
				html TEXT NOT NULL
			) WITHOUT ROWID;
		`,
	},
	{
		version: 5,
		name: "claims and the upstream registry's documents and tarballs",
		sql: `
			-- An admin's claim on the name before its first publish here: a claimed name is this
			-- registry's, never asked upstream, and may be published although upstream has it.
			CREATE TABLE claim (
				singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
				name TEXT NOT NULL,
				claimed_at TEXT NOT NULL,
				claimed_by TEXT NOT NULL
			);

			-- The upstream's packument of a name that is not this registry's, per form, as last fetched
			-- (status 404: no upstream has the name). The body is split into chunks: one SQLite value
			-- holds at most 2 MB, and packuments of popular packages are larger.
			CREATE TABLE upstream_documents (
				form TEXT PRIMARY KEY CHECK (form IN ('full', 'abbreviated')),
				name TEXT NOT NULL,
				-- Base URL of the upstream that answered.
				upstream TEXT NOT NULL,
				status INTEGER NOT NULL CHECK (status IN (200, 404)),
				-- Upstream's ETag, sent back as If-None-Match.
				upstream_etag TEXT,
				-- Of the body as this registry serves it (tarball URLs rewritten).
				etag TEXT NOT NULL,
				modified TEXT NOT NULL,
				-- Stands in for this registry's base URL in the rewritten tarball URLs.
				placeholder TEXT NOT NULL,
				size INTEGER NOT NULL,
				-- When upstream last confirmed the document (200 or 304), in ms.
				fetched_at INTEGER NOT NULL,
				-- The last refresh that failed since then, and why.
				failed_at INTEGER,
				last_error TEXT
			);
			CREATE TABLE upstream_document_chunks (
				form TEXT NOT NULL,
				seq INTEGER NOT NULL,
				body TEXT NOT NULL,
				PRIMARY KEY (form, seq)
			) WITHOUT ROWID;

			-- Each upstream version's tarball: where upstream keeps it and what its bytes must hash to.
			CREATE TABLE upstream_versions (
				version TEXT PRIMARY KEY,
				upstream TEXT NOT NULL,
				url TEXT NOT NULL,
				integrity TEXT,
				shasum TEXT
			) WITHOUT ROWID;

			-- Upstream tarballs stored in R2, each once its bytes matched: never fetched again.
			CREATE TABLE upstream_tarballs (
				version TEXT PRIMARY KEY,
				upstream TEXT NOT NULL,
				key TEXT NOT NULL,
				size INTEGER NOT NULL,
				integrity TEXT NOT NULL,
				stored_at TEXT NOT NULL
			) WITHOUT ROWID;
		`,
	},
	{
		version: 6,
		name: "registry signatures of every version; staged rollouts on channels; retention checks",
		sql: `
			-- JSON [{ keyid, sig }] as dist.signatures shows it; NULL until the version is signed (versions
			-- published before signing existed are signed by the object's alarm).
			ALTER TABLE versions ADD COLUMN signatures TEXT;

			-- What a history row records: a move of the pointer ('move', 'rollout.complete'), or an event
			-- beside the chain that the pointer never stands on ('rollout.start', 'rollout.change',
			-- 'rollout.revert'); detail is JSON (a rollout's percentage).
			ALTER TABLE channel_history ADD COLUMN event TEXT NOT NULL DEFAULT 'move';
			ALTER TABLE channel_history ADD COLUMN detail TEXT;

			-- At most one staged rollout per channel: the version a percentage of clients get instead of
			-- the channel's target (the control), and the salt that draws the cohort.
			CREATE TABLE rollouts (
				channel TEXT PRIMARY KEY,
				version TEXT NOT NULL,
				percent REAL NOT NULL CHECK (percent >= 0 AND percent <= 100),
				salt TEXT NOT NULL,
				started_at TEXT NOT NULL,
				started_by TEXT NOT NULL
			);

			-- When the alarm last applied the retention policy to the package's pre-release versions.
			CREATE TABLE retention_checks (
				singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
				checked_at INTEGER NOT NULL
			);
			INSERT INTO retention_checks (singleton, checked_at) VALUES (1, 0);
		`,
	},
	{
		version: 7,
		name: "staged versions (npm stage publish)",
		sql: `
			-- A version kept aside until approved (durable-objects/package/staged.ts): item is the JSON
			-- StagedVersion npm stage list shows; the publish input is in staged_parts, in order.
			CREATE TABLE staged (
				id TEXT PRIMARY KEY,
				version TEXT NOT NULL,
				item TEXT NOT NULL,
				created_at TEXT NOT NULL,
				expires_at TEXT NOT NULL,
				tarball_key TEXT NOT NULL,
				files_key TEXT NOT NULL
			);
			CREATE TABLE staged_parts (
				id TEXT NOT NULL,
				part INTEGER NOT NULL,
				body TEXT NOT NULL,
				PRIMARY KEY (id, part)
			) WITHOUT ROWID;
		`,
	},
	{
		version: 8,
		name: "packuments stored in pieces, one row per version; versions indexed by publish time",
		sql: `
			-- Each version's part of the packuments (durable-objects/package/packument-pieces.ts): the
			-- abbreviated form's, and the full form's version document as the text before and after
			-- its maintainers (which change without the version changing). A publish writes one row, not
			-- the whole document; a read scans the table once and orders the rows as the versions are
			-- ordered (published_at, then the version row's rowid, kept as seq). A row is dropped when
			-- its version changes and built again by the write; versions stored before this step get
			-- theirs on first use.
			CREATE TABLE version_documents (
				version TEXT PRIMARY KEY,
				published_at TEXT NOT NULL,
				seq INTEGER NOT NULL,
				abbreviated TEXT NOT NULL,
				full_head TEXT NOT NULL,
				full_tail TEXT NOT NULL
			);

			-- The whole documents, one value each, grew past what one SQLite value may hold (2 MB).
			DROP TABLE documents;

			-- What every write and its alarm look up (the last published version, unsigned versions) is
			-- found without reading every version's row: a write's cost stays flat in the version count.
			CREATE INDEX versions_published ON versions (published_at);
			CREATE INDEX versions_unsigned ON versions (published_at) WHERE signatures IS NULL;
		`,
	},
	{
		version: 9,
		name: "package hook events, written with the change they report, and their deliveries",
		sql: `
			-- One row per event (JSON body without the hook owner), written in the change's transaction.
			-- 'expanded' is set once the alarm has read which hooks the event goes to.
			CREATE TABLE hook_outbox (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				body TEXT NOT NULL,
				created_at INTEGER NOT NULL,
				expanded INTEGER NOT NULL DEFAULT 0
			);

			-- One row per event and hook still to be delivered; gone once delivered or given up.
			CREATE TABLE hook_deliveries (
				event_id INTEGER NOT NULL,
				hook_id TEXT NOT NULL,
				attempts INTEGER NOT NULL DEFAULT 0,
				next_at INTEGER NOT NULL,
				PRIMARY KEY (event_id, hook_id)
			) WITHOUT ROWID;
		`,
	},
	{
		version: 10,
		name: "the storage figure summed from an index",
		sql: `
			-- The alarm sums every version's tarball size after each change (the storage alert): from
			-- this index, not from the versions' rows with their manifests (#25: a publish at 5,000
			-- versions read them all).
			CREATE INDEX versions_tarball_size ON versions (tarball_size);
		`,
	},
	{
		version: 11,
		name: "the versions whose packument pieces are due, kept by triggers",
		sql: `
			-- Which versions' packument pieces are still to be built (documents.ts). The triggers keep
			-- it, and drop a changed or removed version's pieces, whatever writes the version (a
			-- publish, a deprecation, a signature, a restore's rows): a write builds what it changed
			-- without comparing every version with every piece (#25: two scans per write, 2 ms at
			-- 5,000 versions and 33 ms at 50,000).
			CREATE TABLE version_documents_due (version TEXT PRIMARY KEY) WITHOUT ROWID;

			-- What the scans would have found the next time: versions without pieces, pieces without versions.
			INSERT INTO version_documents_due (version)
				SELECT version FROM versions v WHERE NOT EXISTS (SELECT 1 FROM version_documents d WHERE d.version = v.version);
			DELETE FROM version_documents WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.version = version_documents.version);

			CREATE TRIGGER versions_added AFTER INSERT ON versions BEGIN
				INSERT OR IGNORE INTO version_documents_due (version) VALUES (NEW.version);
			END;

			CREATE TRIGGER versions_changed AFTER UPDATE ON versions BEGIN
				DELETE FROM version_documents WHERE version = OLD.version;
				INSERT OR IGNORE INTO version_documents_due (version) VALUES (NEW.version);
			END;

			CREATE TRIGGER versions_removed AFTER DELETE ON versions BEGIN
				DELETE FROM version_documents WHERE version = OLD.version;
				DELETE FROM version_documents_due WHERE version = OLD.version;
			END;
		`,
	},
	{
		version: 12,
		name: "packument pieces indexed in publish order",
		sql: `
			-- A packument too large to join in memory (or to pass between objects: 32 MiB) is streamed
			-- page by page in publish order (documents.ts), each page found from the last by this index.
			CREATE INDEX version_documents_order ON version_documents (published_at, seq);
		`,
	},
];
