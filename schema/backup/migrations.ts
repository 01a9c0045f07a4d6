import type { Migration } from "../migrations";

// SQLite schema of the BackupDO (one object for the registry): the scheduled backups, each built
// in steps from the object's alarm with its cursor here. Append only.

export const backupMigrations: readonly Migration[] = [
	{
		version: 1,
		name: "backups, their cursors, and the bytes copied for them",
		sql: `
			CREATE TABLE backups (
				-- The start time, as the R2 prefix names it: backups/{id}/.
				id TEXT PRIMARY KEY,
				started_at TEXT NOT NULL,
				finished_at TEXT,
				state TEXT NOT NULL CHECK (state IN ('running', 'done', 'pruning')),
				-- JSON ExportCursor of the next page; NULL once every page is written.
				cursor TEXT,
				pages INTEGER NOT NULL DEFAULT 0,
				packages INTEGER NOT NULL DEFAULT 0,
				versions INTEGER NOT NULL DEFAULT 0,
				-- Bytes of its page objects and of the tarballs and bundles its packages name.
				bytes INTEGER NOT NULL DEFAULT 0
			);

			-- Bytes a written page names that are not copied under backups/blobs/ yet.
			CREATE TABLE pending_blobs (
				key TEXT PRIMARY KEY,
				backup_id TEXT NOT NULL,
				size INTEGER NOT NULL
			) WITHOUT ROWID;

			-- Keys already copied under backups/blobs/: immutable, so never copied twice; deleted once
			-- no backup that is kept names them (last_backup_id: the newest backup that did).
			CREATE TABLE copied_blobs (
				key TEXT PRIMARY KEY,
				size INTEGER NOT NULL,
				last_backup_id TEXT NOT NULL
			) WITHOUT ROWID;
			CREATE INDEX copied_blobs_by_backup ON copied_blobs (last_backup_id);
		`,
	},
	{
		version: 2,
		name: "a step that keeps failing is retried a bounded number of times",
		sql: `
			-- Failures in a row of the step under way; reset by a step that succeeds.
			ALTER TABLE backups ADD COLUMN tries INTEGER NOT NULL DEFAULT 0;
			-- JSON [{ name, reason }]: packages left out after BACKUP_STEP_TRIES failures, named in its manifest.
			ALTER TABLE backups ADD COLUMN failed TEXT NOT NULL DEFAULT '[]';
		`,
	},
];
