import type { Actor, AuditEntry, AuditFilter } from "../audit";
import type { Result } from "../errors";
import type { SearchDocument } from "../search/contract";
import type { RegistrySignature } from "../signatures";
import type { Provenance, StagedVersion } from "../trust/contract";
import type { HistoryEvent } from "./rows";

// The RPC contract of a PackageMetadataDO (one object per package name): what the Worker may ask
// of it and what it answers. Every method that can fail answers a Result; a package that was never
// published, or was unpublished entirely, is refused as `notFound` by every method but `publish`.

export type Access = "public" | "restricted";

/** An npm person, as maintainers and `_npmUser` show them. */
export type Person = {
	name: string;
	email?: string;
	/** A version published by a trusted publisher (a CI's ID token), as the public registry marks it, with where it came from. */
	trustedPublisher?: { id: Provenance["provider"]; oidcConfigId: string } & Provenance;
};

/**
 * A read's answer carries the package's access, so the Worker can decide who may see it, and its
 * revision, so a cached answer can later be confirmed still true without reading it again.
 */
export type Readable<T> = T & { access: Access; rev: string };

export type PackageInfo = {
	access: Access;
	packageId: string;
	name: string;
	requireTwoFactor: boolean;
	rev: string;
};

/** Where one file of a version lies inside the version's file bundle in R2. */
export type BundledFile = { path: string; offset: number; size: number; sha256: string };

export type PublishInput = {
	name: string;
	version: string;
	/** The version manifest: the client's document with the install fields of the tarball's package.json. */
	manifest: Record<string, unknown>;
	/** Install fields in which the client's document disagreed with the tarball (kept in the audit trail). */
	manifestOverrides?: string[];
	/** Channels (dist-tags) to point at the new version. */
	tags: string[];
	/** Access level for a package created by this publish; ignored for an existing one. */
	access: Access;
	tarball: { key: string; integrity: string; shasum: string; size: number };
	files: { key: string; index: BundledFile[]; entryPath: string | null; entryIntegrity: string | null };
	unpackedSize: number;
	readme: { readme: string; filename: string } | null;
	/** The registry's signatures of `${name}@${version}:${integrity}`; absent: the object's alarm signs it. */
	signatures?: RegistrySignature[];
	/** The README rendered to sanitised HTML (worker/web/markdown.ts), kept for the package page. */
	readmeHtml: string | null;
	actor: Actor;
};

export type Published = { rev: string; versionId: string; packageId: string };

/**
 * A version copied from another registry (admin import, `npm run migrate`): stored as a publish
 * stores it, with the source's publish time, publisher and deprecation, and no channel moved.
 */
export type ImportVersionInput = Omit<PublishInput, "tags"> & {
	publishedAt: string;
	publishedBy: Person;
	deprecated: string | null;
};

/** `present`: the version was here already with the same integrity; nothing was written. */
export type ImportedVersion = { rev: string; status: "copied" | "present" };

/** What belongs to an imported package rather than a version, applied once its versions are in. */
export type ImportMetadataInput = {
	distTags: Record<string, string>;
	created: string | null;
	modified: string | null;
	maintainers: Person[] | null;
	/** Version numbers the source unpublished: taken here too, never to be reused. */
	unpublished: string[];
	/** Deprecation messages by version (null: not deprecated), applied to the versions here. */
	deprecated: Record<string, string | null>;
	actor: Actor;
};

export type ImportedMetadata = {
	rev: string;
	/** Tags moved to the source's version, and tags already there. */
	moved: string[];
	unchanged: string[];
	/** Tags not applied, with why (their version is not here, a rollout holds the channel, no room). */
	skipped: { tag: string; version: string; reason: string }[];
	/** Numbers the source unpublished that are published here: left alone. */
	liveHere: string[];
	/** Versions whose deprecation changed to the source's. */
	deprecationsChanged: string[];
};

export type PackageUpdate = {
	/** `_rev` the client read; must be current when versions are removed (CouchDB's optimistic check). */
	rev: string | null;
	/** The versions of the document the client sent back, with their deprecation message if any. */
	versions: Record<string, { deprecated?: string }>;
	/** Whether versions absent from the document are removed (`PUT /{name}/-rev/{rev}`, npm unpublish). */
	removeMissing: boolean;
	/** Deletes versions that channel history protects (a publisher's explicit choice, audited). */
	force: boolean;
	actor: Actor;
};

/** What a removal leaves for the Worker to delete from R2 once it is committed. */
export type Removed = { rev: string; removedKeys: string[] };

/** A stored packument; `body` is null when the caller's If-None-Match already names it. */
export type StoredDocument = { etag: string; modified: string; body: string | null; placeholder: string };

/** Where a tarball's bytes lie in R2; `upstream` marks a copy of an upstream package's tarball. */
export type TarballLocation = { key: string; size: number; integrity: string; upstream?: true };

/** How an upstream answer was found: in the object's copy (fresh or stale), or by asking upstream now. */
export type UpstreamNote = {
	outcome: "hit" | "stale" | "miss";
	/** A Warning header for a stale copy served because upstream could not be reached. */
	warning: string | null;
};

/** A packument as served under a name: the local package's (`upstream` null), or the upstream's copy. */
export type ServedDocument = StoredDocument & { upstream: UpstreamNote | null };

/**
 * A client's read of a packument (not a page's, not an export's): one too large to join is
 * streamed with `base` in place of the placeholder. The read tier asks without the client's
 * conditional header and answers it itself, from what it keeps; an answer too large to keep it
 * cannot, so the client's `ifNoneMatch` goes along: on a match, a packument the object already
 * knows to be streamed is answered with nothing (a 304), before any of its pieces is read.
 */
export type ClientRead = {
	base: string;
	ifNoneMatch: string | null;
	/** A HEAD: a packument too large to join comes as `bodyless` (the headers of its 200), never a stream to cancel. */
	head?: boolean;
};

/** A packument as a client's read gets it: text, nothing (a 304), a stream, or (a HEAD's) no body at all. */
export type ClientDocument = ServedDocument & { stream?: ReadableStream<Uint8Array>; bodyless?: true };

/**
 * An upstream tarball asked for, its bytes checked: stored (read it from R2), or a small one
 * answered as soon as its digest matched, while R2 stores it.
 */
export type UpstreamTarball = { stored: TarballLocation } | { verified: { bytes: Uint8Array; integrity: string } };

export type Claimed = {
	name: string;
	claimedAt: string;
	claimedBy: string;
	/** False when the name was already claimed or published here (nothing changed). */
	created: boolean;
	/** R2 keys of upstream tarballs stored under the name, which the claim let go of. */
	removedKeys: string[];
};

/** A channel as web-component loaders see it: where it points and what to import. */
export type ChannelView = {
	packageId: string;
	channel: string;
	versionId: string;
	version: string;
	/** When the version was published to this channel (the history row's time). */
	publishedAt: string;
	historyId: number;
	entryPath: string | null;
	entryIntegrity: string | null;
	/** A staged rollout of another version to part of the clients, if one is under way. */
	rollout: RolloutView | null;
};

/**
 * What a history row beside the moves says: a rollout's percentage (and, for a change, the one
 * before); a promotion's source channel; a rollback's version before it and the row it went to.
 */
export type RolloutEventDetail = { percent?: number; from?: number | string | null; to?: number };

export type RolloutView = {
	version: string;
	versionId: string;
	percent: number;
	/** Draws the cohort (schema/rollouts.ts); new for every rollout. */
	salt: string;
	startedAt: string;
	startedBy: string;
	entryPath: string | null;
	entryIntegrity: string | null;
};

export type VersionView = {
	packageId: string;
	versionId: string;
	version: string;
	publishedAt: string;
	entryPath: string | null;
	entryIntegrity: string | null;
	deprecated: string | null;
};

export type HistoryEntry = {
	id: number;
	channel: string;
	version: string;
	versionId: string;
	previousHistoryId: number | null;
	at: string;
	by: string;
	current: boolean;
	/** A move of the pointer, or a rollout's start, change, completion or revert. */
	event: HistoryEvent;
	/** For rollout events: the percentage (and, for a change, the one before). */
	detail: RolloutEventDetail | null;
};

/** A version given by number or by its versionId. */
export type VersionRef = { version: string } | { versionId: string };

export type DayCount = { day: string; downloads: number };
export type DownloadCounts = { perDay: DayCount[]; perVersion: Record<string, number> };

/** One version in a package page's list of versions. */
export type PageVersion = { version: string; publishedAt: string; deprecated: string | null; tags: string[] };

/** A channel's history entry on a package page; `rollbackTarget`: an earlier entry of its current chain. */
export type PageHistoryEntry = {
	id: number;
	version: string;
	at: string;
	by: string;
	current: boolean;
	rollbackTarget: boolean;
	/** A move of the pointer, or a rollout's start, change, completion or revert. */
	event: HistoryEvent;
	detail: RolloutEventDetail | null;
};

/** A staged rollout as the page shows it. */
export type PageRollout = { version: string; percent: number; startedAt: string; startedBy: string };

export type PageChannel = {
	channel: string;
	version: string;
	historyId: number;
	history: PageHistoryEntry[];
	rollout: PageRollout | null;
};

/** The version a package page shows, with what its manifest says about it. */
export type PageVersionDetail = {
	version: string;
	publishedAt: string;
	publishedBy: Person;
	deprecated: string | null;
	description: string;
	keywords: string[];
	license: string | null;
	links: Record<string, string>;
	dependencies: Record<string, string>;
	peerDependencies: Record<string, string>;
	optionalDependencies: Record<string, string>;
	devDependencies: Record<string, string>;
	fileCount: number;
	unpackedSize: number;
	integrity: string;
	entryPath: string | null;
	/** Sanitised HTML rendered at publish; null for versions published before it was (see `readme`). */
	readmeHtml: string | null;
	/** The markdown, only when there is no HTML yet: the Worker renders it. */
	readme: string | null;
};

/** Everything a package page shows, in one answer: a page is one call to the package's object. */
export type PackagePage = {
	packageId: string;
	name: string;
	createdAt: string;
	modifiedAt: string;
	distTags: Record<string, string>;
	/** Newest first. */
	versions: PageVersion[];
	maintainers: Person[];
	selected: PageVersionDetail;
	channels: PageChannel[];
	/** Every day of the last PAGE_DOWNLOAD_DAYS with downloads, oldest first. */
	downloads: DayCount[];
};

/** How many days of downloads a package page charts (by week). */
export const PAGE_DOWNLOAD_DAYS = 7 * 26;

/** How many entries of each channel's history a package page lists. */
export const PAGE_HISTORY_ENTRIES = 20;

export type AccessChange = { access?: Access; requireTwoFactor?: boolean };

export interface PackageMetadataContract {
	// reads: the package's access comes with every answer (see Readable)
	info(): Result<PackageInfo>;
	/**
	 * The revision of what the name serves now (the local package's, or the upstream copies'), to
	 * confirm that a cached answer still holds; null when there is nothing to confirm it against.
	 * For upstream copies past their max age it starts the background refresh.
	 */
	revision(name: string): string | null;
	packument(form: "full" | "abbreviated", ifNoneMatch: string | null): Result<Readable<StoredDocument>>;
	/** One version by number, tag, or the highest version a range allows (as the npm registry does). */
	versionDocument(spec: string): Result<Readable<{ body: string; placeholder: string }>>;
	/** With `count`, a download the caller may make is counted (in memory, written by the alarm). */
	tarball(version: string, options: { count: boolean; mayReadRestricted: boolean }): Result<Readable<TarballLocation>>;
	/** Downloads the Worker served from its read tier, in one batch per isolate: `{ version: count }`. */
	countDownloads(counts: Record<string, number>): void;
	file(version: string, path: string): Result<Readable<{ key: string; file: BundledFile }>>;
	fileList(
		version: string,
		limit: number,
	): Result<Readable<{ version: string; total: number; files: { path: string; size: number }[] }>>;
	downloadCounts(start: string, end: string): Result<Readable<DownloadCounts>>;
	maintainers(): Result<Readable<{ maintainers: Person[]; rev: string }>>;
	distTags(): Result<Readable<{ tags: Record<string, string> }>>;
	channels(): Result<Readable<{ packageId: string; channels: ChannelView[] }>>;
	channel(channel: string): Result<Readable<ChannelView>>;
	channelHistory(channel: string): Result<Readable<{ entries: HistoryEntry[] }>>;
	versions(): Result<Readable<{ packageId: string; versions: VersionView[] }>>;
	version(ref: VersionRef): Result<Readable<VersionView>>;
	/** A package page: the version given by number or tag, else the latest. */
	/** `mayReadRestricted` false: a restricted package is refused like a missing one, unbuilt (#22.9). */
	page(spec: string | null, mayReadRestricted?: boolean): Result<Readable<PackagePage>>;
	/** The trail outlives a full unpublish: `live` is false once every version is gone. */
	auditLog(filter: AuditFilter): Result<Readable<{ entries: AuditEntry[]; live: boolean }>>;
	/** The package as the search index sees it. */
	searchDocument(): Result<SearchDocument>;
	/** The R2 keys of every stored version's bytes (the reindex sweep keeps these and no others). */
	blobKeys(): string[];
	/** The first of the candidate numbers that no version has or had (uploads choose their version). */
	firstFreeVersion(candidates: string[]): string | null;

	// the name as every client sees it: the local package, else (when the name may come from
	// upstream, schema/upstream.ts) the upstream's copy, fetched, cached and revalidated here
	/** With `client`, a local packument too large to join comes as `stream`, the base URL in place. */
	servedPackument(
		name: string,
		form: "full" | "abbreviated",
		ifNoneMatch: string | null,
		mayReadRestricted?: boolean,
		client?: ClientRead,
	): Promise<Result<Readable<ClientDocument>>>;
	servedVersionDocument(
		name: string,
		spec: string,
		mayReadRestricted?: boolean,
	): Promise<Result<Readable<{ body: string; placeholder: string; upstream: UpstreamNote | null }>>>;
	/**
	 * `tarball()` where the upstream registry may serve the name: a version that is neither held nor
	 * stored here is fetched from upstream in the same call (one call to the object on the first
	 * download's path instead of two, #25), once however many ask (the others wait for it to be
	 * stored), checked against its integrity as it streams. `held`: `tarball()`'s own answer.
	 */
	tarballOrUpstream(
		name: string,
		version: string,
		options: { count: boolean; mayReadRestricted: boolean },
	): Promise<
		{ from: "held"; held: Result<Readable<TarballLocation>> } | { from: "upstream"; upstream: Result<UpstreamTarball> }
	>;
	/**
	 * Where an upstream tarball was stored once the fetch in flight settles (null: it was not),
	 * answered as `tarball()` would without counting a request: the Worker keeps it for the next one (#25).
	 */
	storedUpstreamTarball(name: string, version: string): Promise<Readable<TarballLocation> | null>;
	/**
	 * Whether a first publish may create this name: refused while the upstream registry has a
	 * package of that name (unless an admin claimed it), or cannot be asked (unless configured).
	 */
	admitNewPackage(name: string): Promise<Result<{ admitted: true }>>;
	/** An admin's claim: the name becomes this registry's before anything is published under it. */
	claim(name: string, actor: Actor): Result<Claimed>;

	// writes: each one SQLite transaction; a refusal leaves the package exactly as it was
	publish(input: PublishInput): Result<Published>;
	/** A version from another registry (admin import); `present` when it is here with the same bytes. */
	importVersion(input: ImportVersionInput): Result<ImportedVersion>;
	/** An imported package's dist-tags, times, maintainers and unpublished numbers. */
	importMetadata(input: ImportMetadataInput): Result<ImportedMetadata>;
	/** npm stage publish: the checked publish kept aside, invisible, until approved (or it expires). */
	stage(item: StagedVersion, input: PublishInput): Result<StagedVersion>;
	stagedVersion(id: string): Result<{ item: StagedVersion; tarballKey: string }>;
	stagedVersions(): StagedVersion[];
	/** Publishes a staged version as it was staged, with the checks of a publish now; it is no longer staged. */
	approveStaged(id: string, actor: Actor): Result<Published>;
	/** Drops a staged version; answers its bytes' keys for the Worker to delete. */
	rejectStaged(id: string, actor: Actor): Result<{ removedKeys: string[] }>;
	/** npm deprecate, and npm unpublish of one version (a document without it). */
	update(input: PackageUpdate): Result<Removed>;
	/** Refused while a channel other than `latest` exists, unless forced. */
	unpublishPackage(rev: string, force: boolean, actor: Actor): Result<Removed>;
	removeTarball(version: string, rev: string, force: boolean, actor: Actor): Result<Removed>;
	deleteVersion(ref: VersionRef, force: boolean, actor: Actor): Result<Removed & { version: string }>;
	moveChannel(channel: string, ref: VersionRef, actor: Actor): Result<ChannelView>;
	rollbackChannel(channel: string, to: number | undefined, actor: Actor): Result<ChannelView>;
	promoteChannel(to: string, from: string, actor: Actor): Result<ChannelView>;
	/** Starts a staged rollout of a version on a channel; its current target stays the control. */
	startRollout(channel: string, ref: VersionRef, percent: number, actor: Actor): Result<ChannelView>;
	changeRollout(channel: string, percent: number, actor: Actor): Result<ChannelView>;
	/** The rollout's version becomes the channel's target (one history entry). */
	completeRollout(channel: string, actor: Actor): Result<ChannelView>;
	/** The rollout ends with everyone on the control (one history entry). */
	revertRollout(channel: string, actor: Actor): Result<ChannelView>;
	removeChannel(channel: string, actor: Actor): Result<{ tags: Record<string, string> }>;
	setAccess(change: AccessChange, actor: Actor): Result<{ access: Access }>;
	setMaintainers(maintainers: Person[], actor: Actor): Result<{ rev: string }>;
}
