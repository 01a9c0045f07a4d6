import type { Access, Person } from "../package/contract";

// The RPC contract of the RegistryIndexDO (one object for the registry): what package objects
// tell it about themselves, and how the Worker asks it to search.

/** What a package object tells the index about itself. */
export type SearchDocument = {
	name: string;
	scope: string | null;
	version: string;
	description: string;
	keywords: string[];
	author: Person | null;
	publisher: { username: string; email?: string };
	maintainers: { username: string; email?: string }[];
	links: Record<string, string>;
	license: string | null;
	readme: string;
	date: string;
	access: Access;
	deprecated: string | null;
	weeklyDownloads: number;
	rev: number;
};

/** A parsed search request (see worker/search/query.ts). */
export type SearchQuery = {
	/** Free-text words, each matched as a quoted prefix: never FTS5 syntax. */
	terms: string[];
	/** The free text as typed, for the exact-name boost. */
	text: string;
	keywords: string[];
	author: string | null;
	maintainer: string | null;
	scope: string | null;
	deprecated: boolean | null;
	unstable: boolean | null;
	boostExact: boolean;
	size: number;
	from: number;
	/** What the asker may read besides public packages. */
	readable: { all: boolean; packages: string[]; scopes: string[] };
};

export type SearchHit = Omit<SearchDocument, "access" | "license" | "readme" | "rev"> & {
	quality: number;
	popularity: number;
	exact: boolean;
	relevance: number;
};

export type ReindexStatus = {
	state: "idle" | "running";
	generation: number;
	packagesSeen: number;
	indexed: number;
	/** R2 objects no version referenced, deleted by this rebuild. */
	swept: number;
	startedAt: string | null;
	finishedAt: string | null;
};

export interface RegistryIndexContract {
	/** Stores a package's latest state; a notification older than what is stored changes nothing. */
	upsert(doc: SearchDocument): boolean;
	/** Forgets a package that was unpublished entirely. */
	remove(name: string, rev: number): boolean;
	search(query: SearchQuery): { hits: SearchHit[]; total: number };
	/** The packages of a scope the index knows (npm access list packages). */
	packagesInScope(scope: string): { name: string; access: Access }[];
	startReindex(): Promise<ReindexStatus>;
	reindexStatus(): ReindexStatus;
}
