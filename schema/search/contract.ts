import type { Access, DayCount, Person } from "../package/contract";

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
	/** Downloads of the last RECENT_DOWNLOAD_DAYS days (days without any left out): the dashboard sums them. */
	dailyDownloads: DayCount[];
	versionCount: number;
	/** When the newest version was published (`date` moves with every change). */
	publishedAt: string;
	/** What the latest version depends on (dependencies, peer, optional): the index answers dependents from it. */
	dependencies: DependencyEdge[];
	rev: number;
};

/** The manifest fields whose names make a package a dependent, strongest first. */
export type DependencyKind = "dependencies" | "peerDependencies" | "optionalDependencies";

export type DependencyEdge = { name: string; kind: DependencyKind; range: string };

/** The packages here whose latest version depends on a name: the first `limit`, and how many in all. */
export type Dependents = {
	total: number;
	dependents: { name: string; version: string; kind: DependencyKind; range: string; deprecated: boolean }[];
};

/** How many days of downloads each package tells the index. */
export const RECENT_DOWNLOAD_DAYS = 30;

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
	readable: Readable;
};

export type SearchHit = Omit<
	SearchDocument,
	"access" | "license" | "readme" | "rev" | "dailyDownloads" | "versionCount" | "publishedAt" | "dependencies"
> & {
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

/** What the registry holds, for its operators' dashboard (every package, whatever its access). */
export type RegistryOverview = {
	packages: number;
	versions: number;
	weeklyDownloads: number;
	/** Every day of the last RECENT_DOWNLOAD_DAYS, oldest first, zeros included. */
	downloadsPerDay: DayCount[];
	top: PackageSummary[];
	recent: PackageSummary[];
};

/** A package as lists of packages show it. */
export type PackageSummary = {
	name: string;
	version: string;
	description: string;
	keywords: string[];
	access: Access;
	publishedAt: string;
	weeklyDownloads: number;
	versionCount: number;
};

/** What the asker may read besides public packages (search and lists alike). */
export type Readable = { all: boolean; packages: string[]; scopes: string[] };

export interface RegistryIndexContract {
	/** Stores a package's latest state; a notification older than what is stored changes nothing. */
	upsert(doc: SearchDocument): boolean;
	/** Forgets a package that was unpublished entirely. */
	remove(name: string, rev: number): boolean;
	/** How many packages (and their versions) an export of the registry or one scope walks. */
	exportTotals(scope: string | null): { packages: number; versions: number };
	/** Names a name only claimed, so the export walks it (the departed table holds such names too). */
	claimed(name: string): void;
	search(query: SearchQuery): { hits: SearchHit[]; total: number };
	/** The packages of a scope the index knows (npm access list packages). */
	packagesInScope(scope: string): { name: string; access: Access }[];
	/** The packages most recently published, of those the asker may read. */
	recent(readable: Readable, limit: number): PackageSummary[];
	/** Which of these names are packages here that the asker may read (a package page links them). */
	known(names: string[], readable: Readable): string[];
	/** The packages the asker may read whose latest version depends on `name` (a package page's "used by"). */
	dependents(name: string, readable: Readable, limit: number): Dependents;
	/** Registry-wide totals, top and recent packages, downloads per day: the dashboard's figures. */
	overview(today: string): RegistryOverview;
	startReindex(): Promise<ReindexStatus>;
	reindexStatus(): ReindexStatus;
}
