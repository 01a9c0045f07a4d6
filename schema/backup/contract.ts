// The export archive's items and the RPC shapes of export and restore (ARCHITECTURE.md, "Export,
// restore and backups"). An object's state travels as its own SQLite rows, table by table, with
// the schema version they were written under; derived tables (stored packuments, the search
// outbox, upstream copies) stay behind and are rebuilt. Bytes travel by their immutable R2 keys.

/** The archive format; a reader refuses an archive of a newer format than it knows. */
export const ARCHIVE_FORMAT = 1;

/** One SQLite row as JSON: every column the objects' tables use is text, integer or real. */
export type Row = Record<string, string | number | null>;

/** Rows of some of an object's tables, in the order they are restored. */
export type TableRows = { table: string; rows: Row[] }[];

/** Where a paged dump of an object's tables stands: the table (by position) and the rows done. */
export type DumpCursor = { table: number; offset: number };

/** A package's versions as the head of its export names them: what restore compares, and its bytes. */
export type ExportedVersion = {
	version: string;
	integrity: string;
	shasum: string;
	tarballKey: string;
	tarballSize: number;
	filesKey: string;
};

/** The first item of a package: its revision, its schema version, its versions and their bytes. */
export type PackageHead = { kind: "package"; name: string; rev: string; schema: number; versions: ExportedVersion[] };

/** A page of a package's rows; `final` once the package row itself (always last) is in it. */
export type PackageRows = {
	kind: "rows";
	name: string;
	rev: string;
	schema: number;
	tables: TableRows;
	final: boolean;
};

/** A page of the auth store's rows (users, tokens as hashes, grants, customers, policies, settings, audit). */
export type AuthRows = { kind: "auth"; schema: number; tables: TableRows; final: boolean };

/** A page of the package hooks' definitions (the HooksDO: targets, endpoints, sealed secrets, delivery status). */
export type HookRows = { kind: "hooks"; schema: number; tables: TableRows; final: boolean };

export type ExportItem = PackageHead | PackageRows | AuthRows | HookRows;

/**
 * How restore found a package: not here (restored), identical (present), here lacking versions the
 * archive has (merge: `copy` is added, `conflicts` stay as they are here), or nothing to add but
 * versions here with other bytes or removed here since (conflict).
 */
export type RestoreVerdict =
	| { state: "fresh" }
	| { state: "present" }
	| { state: "merge"; copy: string[]; conflicts: { version: string; reason: string }[] }
	| { state: "conflict"; conflicts: { version: string; reason: string }[] };

/** What restoring one page of rows did. */
export type RestoredRows = { inserted: number; present: number; differing: number };

/** Caps of one page of an object's rows: bytes of JSON and rows, whichever comes first. */
export const DUMP_PAGE_BYTES = 2 * 1024 * 1024;
export const DUMP_PAGE_ROWS = 2_000;

/** Where an export stands between pages (opaque to clients, base64url JSON in `?cursor=`). */
export type ExportCursor = {
	/** Only this scope's packages (the auth store is exported whole either way). */
	scope: string | null;
	/** The auth store's rows still to come; null once they are all out. */
	auth: DumpCursor | null;
	/**
	 * The hook definitions still to come, after the auth store's; null once they are all out (absent
	 * from a cursor given out before hooks were exported: that export goes on without them).
	 */
	hooks?: DumpCursor | null;
	/** The last package exported whole ("" before the first). */
	after: string;
	/** A package part way through: its revision at its head, and its rows done. */
	pkg: { name: string; rev: string; dump: DumpCursor } | null;
};

/** One page of an export: its items in archive order, and the cursor of the next page (null: done). */
export type ExportPage = { format: number; items: ExportItem[]; next: ExportCursor | null; calls: number };

/** What one page may spend: object calls (each a subrequest), and bytes of items in memory. */
export const EXPORT_PAGE_CALLS = 50;
export const EXPORT_PAGE_BYTES = 8 * 1024 * 1024;

/** A scheduled backup as GET /-/admin/backups lists it. */
export type BackupView = {
	id: string;
	state: "running" | "done" | "pruning";
	startedAt: string;
	finishedAt: string | null;
	pages: number;
	packages: number;
	versions: number;
	bytes: number;
	/** Packages left out because reading them kept failing (BACKUP_STEP_TRIES times in a row). */
	failed: { name: string; reason: string }[];
};

/** Where a backup's parts lie in R2: its pages and manifest under its id, bytes shared by all. */
export const BACKUP_PREFIX = "backups/";
export const backupPageKey = (id: string, page: number) => `backups/${id}/pages/${String(page).padStart(6, "0")}.json`;
export const backupManifestKey = (id: string) => `backups/${id}/manifest.json`;
export const backupBlobKey = (key: string) => `backups/blobs/${key}`;
