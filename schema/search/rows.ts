import type { Access } from "../package/contract";
import type { DependencyKind } from "./contract";

// Row types of the RegistryIndexDO's SQLite tables (schema/search/migrations.ts).

export type IndexedPackageRow = {
	rowid: number;
	author_name: string | null;
	publisher_name: string | null;
	name: string;
	scope: string | null;
	version: string;
	description: string;
	keywords: string;
	author: string | null;
	publisher: string;
	maintainers: string;
	links: string;
	date: string;
	access: Access;
	deprecated: string | null;
	quality: number;
	weekly_downloads: number;
	popularity: number;
	rev: number;
	generation: number;
	version_count: number;
	published_at: string | null;
};

export type ReindexRow = {
	generation: number;
	state: "idle" | "running";
	cursor: string | null;
	scope_cursor: string | null;
	seen: number;
	swept: number;
	started_at: string | null;
	finished_at: string | null;
	/** Where the refresh of rows from before migration 6 goes on; null: none to do. */
	refresh_cursor: string | null;
};

export type DependencyRow = {
	dependency: string;
	name: string;
	kind: DependencyKind;
	range: string;
};
