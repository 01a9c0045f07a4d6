import { DurableObject } from "cloudflare:workers";
import semver from "semver";
import { packageMetadataMigrations } from "../schema/package-metadata";
import { type Refusal, type Result, refuse } from "../worker/errors";
import { randomHex } from "../worker/lib/crypto";
import { etagMatches } from "../worker/lib/etag";
import type { BundledFile } from "../worker/lib/file-bundle";
import { searchIndex } from "../worker/objects";
import { type Actor, type AuditEntry, type AuditFilter, queryAudit, recordAudit } from "./audit";
import { applyMigrations } from "./migrations";
import { type ChannelState, Channels } from "./package/channels";
import {
	abbreviatedPackument,
	fullPackument,
	type PackageRow,
	type Person,
	revision,
	type VersionRow,
	versionDocument,
} from "./package/documents";
import { type DayCount, Downloads } from "./package/downloads";
import { searchDocument } from "./package/search-document";
import { Versions } from "./package/versions";
import type { SearchDocument } from "./registry-index";
import { transact } from "./transaction";

// One object per package name (idFromName(name)): the single writer of that package. Every rule
// about the package (a version exists once, a tag points at a real version, a channel's history
// is a chain) is checked here, and every change is one SQLite transaction.

export type Access = "public" | "restricted";

export type PublishInput = {
	name: string;
	version: string;
	/** The version manifest as the client sent it, minus what the registry owns (dist, _id, …). */
	manifest: Record<string, unknown>;
	/** Channels (dist-tags) to point at the new version. */
	tags: string[];
	/** Access level for a package created by this publish; ignored for an existing one. */
	access: Access;
	tarball: { key: string; integrity: string; shasum: string; size: number };
	files: { key: string; index: BundledFile[]; entryPath: string | null; entryIntegrity: string | null };
	unpackedSize: number;
	readme: { readme: string; filename: string } | null;
	actor: Actor;
};

export type PackageUpdate = {
	/** `_rev` the client read; must be current when versions are removed (CouchDB's optimistic check). */
	rev: string | null;
	/** The versions of the document the client sent back, with their deprecation message if any. */
	versions: Record<string, { deprecated?: string }>;
	/** Whether versions absent from the document are removed (`PUT /{name}/-rev/{rev}`, npm unpublish). */
	removeMissing: boolean;
	/** Only honoured for admins: deletes versions that channel history protects. */
	force: boolean;
	actor: Actor;
};

export type PackumentRead =
	| { found: false }
	| { found: true; access: Access; etag: string; modified: string; notModified: true }
	| {
			found: true;
			access: Access;
			etag: string;
			modified: string;
			notModified: false;
			body: string;
			placeholder: string;
	  };

export type DocumentRead = { found: false } | { found: true; access: Access; body: string | null; placeholder: string };

export type TarballRead =
	| { found: false }
	| { found: true; access: Access; key: string; size: number; integrity: string };

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
};

/** A version given by number or by its versionId. */
export type VersionRef = { version: string } | { versionId: string };

type Found<T> = { found: false } | ({ found: true; access: Access } & T);

export class PackageMetadataDO extends DurableObject<Env> {
	private readonly sql: SqlStorage;
	private readonly versions: Versions;
	private readonly channels: Channels;
	private readonly downloads: Downloads;
	/** When this object's alarm is due, as far as this instance has set it (null: not known to be set). */
	private alarmAt: number | null = null;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		this.versions = new Versions(this.sql);
		this.channels = new Channels(this.sql);
		this.downloads = new Downloads(this.sql);
		ctx.blockConcurrencyWhile(async () => {
			applyMigrations(ctx.storage, packageMetadataMigrations);
			this.alarmAt = await ctx.storage.getAlarm();
		});
	}

	// ── reads ──────────────────────────────────────────────────────────────────────────────────

	info():
		| { exists: false }
		| { exists: true; access: Access; packageId: string; name: string; requireTwoFactor: boolean; rev: string } {
		const pkg = this.livePackage();
		if (!pkg) return { exists: false };
		return {
			exists: true,
			access: pkg.access,
			packageId: pkg.package_id,
			name: pkg.name,
			requireTwoFactor: pkg.require_two_factor === 1,
			rev: revision(pkg),
		};
	}

	getPackument(form: "full" | "abbreviated", ifNoneMatch: string | null): PackumentRead {
		const pkg = this.livePackage();
		if (!pkg) return { found: false };
		const doc = this.sql
			.exec<{ body: string; etag: string }>(`SELECT body, etag FROM documents WHERE kind = ?`, form)
			.one();
		if (etagMatches(ifNoneMatch, doc.etag)) {
			return { found: true, access: pkg.access, etag: doc.etag, modified: pkg.modified_at, notModified: true };
		}
		return {
			found: true,
			access: pkg.access,
			etag: doc.etag,
			modified: pkg.modified_at,
			notModified: false,
			body: doc.body,
			placeholder: pkg.base_placeholder,
		};
	}

	/** One version by number, tag, or the highest version a range allows (as the npm registry does). */
	getVersionDocument(spec: string): DocumentRead {
		const pkg = this.livePackage();
		if (!pkg) return { found: false };
		const version = this.resolveSpec(spec);
		const row = version === null ? null : this.versions.get(version);
		if (!row) return { found: true, access: pkg.access, body: null, placeholder: pkg.base_placeholder };
		const body = JSON.stringify(versionDocument(pkg, row, this.versions.maintainers()));
		return { found: true, access: pkg.access, body, placeholder: pkg.base_placeholder };
	}

	/**
	 * Where a version's tarball is. With `count`, a download the caller may make (the package is
	 * public, or the caller may read it) is recorded in memory and written on the alarm.
	 */
	getTarball(version: string, options: { count: boolean; mayReadRestricted: boolean }): TarballRead {
		const pkg = this.livePackage();
		const row = pkg ? this.versions.get(version) : null;
		if (!pkg || !row) return { found: false };
		if (options.count && (pkg.access === "public" || options.mayReadRestricted)) {
			this.downloads.count(version);
			this.scheduleAlarm(Date.now() + seconds(this.env.DOWNLOAD_FLUSH_SECONDS, 5) * 1000);
		}
		return { found: true, access: pkg.access, key: row.tarball_key, size: row.tarball_size, integrity: row.integrity };
	}

	/** Download counts between two UTC days (inclusive): per day, and per version. */
	downloadCounts(start: string, end: string): Found<{ perDay: DayCount[]; perVersion: Record<string, number> }> {
		const pkg = this.livePackage();
		if (!pkg) return { found: false };
		return {
			found: true,
			access: pkg.access,
			perDay: this.downloads.perDay(start, end),
			perVersion: this.downloads.perVersion(start, end),
		};
	}

	/** The package as the search index sees it; null once nothing of it is published. */
	searchDocument(): SearchDocument | null {
		const pkg = this.livePackage();
		if (!pkg) return null;
		return searchDocument(
			pkg,
			this.versions.all(),
			this.channels.distTags(),
			this.versions.maintainers(),
			this.downloads.weeklyTotal(),
		);
	}

	maintainers(): Found<{ maintainers: Person[]; rev: string }> {
		const pkg = this.livePackage();
		if (!pkg) return { found: false };
		return { found: true, access: pkg.access, maintainers: this.versions.maintainers(), rev: revision(pkg) };
	}

	distTags(): { found: false } | { found: true; access: Access; tags: Record<string, string> } {
		const pkg = this.livePackage();
		return pkg ? { found: true, access: pkg.access, tags: this.channels.distTags() } : { found: false };
	}

	listChannels(): Found<{ packageId: string; channels: ChannelView[] }> {
		const pkg = this.livePackage();
		if (!pkg) return { found: false };
		const channels = this.channels.list().map((state) => this.channelView(pkg, state));
		return { found: true, access: pkg.access, packageId: pkg.package_id, channels };
	}

	getChannel(channel: string): Found<{ view: ChannelView | null }> {
		const pkg = this.livePackage();
		if (!pkg) return { found: false };
		const state = this.channels.get(channel);
		return { found: true, access: pkg.access, view: state ? this.channelView(pkg, state) : null };
	}

	channelHistory(channel: string): Found<{ entries: HistoryEntry[] | null }> {
		const pkg = this.livePackage();
		if (!pkg) return { found: false };
		const ids = new Map(this.versions.all().map((v) => [v.version, v.version_id]));
		const rows = this.channels.history(channel);
		const entries =
			rows?.map((row) => ({
				id: row.id,
				channel: row.channel,
				version: row.version,
				versionId: ids.get(row.version) ?? "",
				previousHistoryId: row.previous_history_id,
				at: row.at,
				by: row.by,
				current: row.current,
			})) ?? null;
		return { found: true, access: pkg.access, entries };
	}

	listVersions(): Found<{ packageId: string; versions: VersionView[] }> {
		const pkg = this.livePackage();
		if (!pkg) return { found: false };
		const versions = this.versions.all().map((row) => versionView(pkg, row));
		return { found: true, access: pkg.access, packageId: pkg.package_id, versions };
	}

	getVersion(ref: VersionRef): Found<{ view: VersionView | null }> {
		const pkg = this.livePackage();
		if (!pkg) return { found: false };
		const row = "versionId" in ref ? this.versions.byId(ref.versionId) : this.versions.get(ref.version);
		return { found: true, access: pkg.access, view: row ? versionView(pkg, row) : null };
	}

	/** Where one file of a version lies in its bundle: one ranged R2 read away. */
	getFile(version: string, path: string): Found<{ key: string; file: BundledFile | null }> {
		const pkg = this.livePackage();
		const row = pkg ? this.versions.get(version) : null;
		if (!pkg || !row) return { found: false };
		return { found: true, access: pkg.access, key: row.files_key, file: this.versions.file(version, path) };
	}

	/** The first of the candidate numbers that no version has or had (uploads choose their version). */
	firstFreeVersion(candidates: string[]): string | null {
		return candidates.find((v) => !this.versions.isTaken(v)) ?? null;
	}

	// ── writes ─────────────────────────────────────────────────────────────────────────────────

	publish(input: PublishInput): Result<{ rev: string; versionId: string; packageId: string }> {
		return this.transact(() => {
			if (this.versions.isTaken(input.version)) {
				return refuse("versionExists", `You cannot publish over the previously published versions: ${input.version}.`);
			}
			const now = new Date().toISOString();
			const pkg = this.ensurePackage(input.name, input.access, now);
			const versionId = crypto.randomUUID();
			this.versions.insert(
				{
					version: input.version,
					version_id: versionId,
					manifest: JSON.stringify(input.manifest),
					integrity: input.tarball.integrity,
					shasum: input.tarball.shasum,
					tarball_key: input.tarball.key,
					tarball_size: input.tarball.size,
					files_key: input.files.key,
					file_count: input.files.index.length,
					unpacked_size: input.unpackedSize,
					entry_path: input.files.entryPath,
					entry_integrity: input.files.entryIntegrity,
					readme: input.readme?.readme ?? null,
					readme_filename: input.readme?.filename ?? null,
					published_at: now,
					published_by: JSON.stringify(person(input.actor)),
				},
				input.files.index,
			);
			this.versions.addMaintainer(person(input.actor));
			for (const tag of input.tags) this.channels.move(tag, input.version, input.actor.label, now);
			if (pkg.unpublished_at !== null) this.sql.exec(`UPDATE package SET unpublished_at = NULL`);
			const rev = this.commit(now, {
				actor: input.actor,
				action: input.tags.length > 0 ? "publish" : "upload",
				target: input.version,
				detail: { versionId, tags: input.tags, integrity: input.tarball.integrity },
			});
			return { ok: true, rev, versionId, packageId: pkg.package_id };
		});
	}

	/**
	 * What npm does with a document and no attachments: `npm deprecate` sets or clears (with "")
	 * `deprecated`; `npm unpublish pkg@v` sends the document without that version. Nothing else in
	 * the document is taken: tags are repaired here, descriptions come from the tarballs.
	 */
	update(input: PackageUpdate): Result<{ rev: string; removedKeys: string[] }> {
		return this.transact(() => {
			const pkg = this.livePackage();
			if (!pkg) return refuse("notFound", "not_found");
			const stored = this.versions.all().map((row) => row.version);
			const unknown = Object.keys(input.versions).find((v) => !stored.includes(v));
			if (unknown !== undefined) {
				return refuse(
					"badRequest",
					this.versions.wasRemoved(unknown)
						? `version ${unknown} was unpublished and cannot come back`
						: `version ${unknown} cannot be added without its tarball attachment`,
				);
			}
			const missing = input.removeMissing ? stored.filter((v) => !(v in input.versions)) : [];
			if (missing.length > 0 && input.rev !== revision(pkg)) {
				return refuse("revisionMismatch", `document update conflict: _rev ${input.rev} is not current`);
			}
			if (missing.length === stored.length && stored.length > 0) {
				return refuse("badRequest", "a document update cannot remove every version; unpublish the package");
			}
			const deprecations: Record<string, string | null> = {};
			for (const [version, { deprecated }] of Object.entries(input.versions)) {
				const current = this.versions.get(version)?.deprecated ?? null;
				const next = deprecated === undefined ? current : deprecated === "" ? null : deprecated;
				if (next === current) continue;
				this.versions.setDeprecated(version, next);
				deprecations[version] = next;
			}
			const now = new Date().toISOString();
			const removed = this.removeVersions(missing, input.force, input.actor, now);
			if (!removed.ok) return removed;
			const rev = this.commit(now, {
				actor: input.actor,
				action: missing.length > 0 ? "unpublish" : "deprecate",
				target: missing.length > 0 ? missing.join(",") : Object.keys(deprecations).join(",") || null,
				detail: missing.length > 0 ? { versions: missing, force: input.force } : { deprecations },
			});
			return { ok: true, rev, removedKeys: removed.keys };
		});
	}

	/** `npm unpublish pkg --force`: every version goes; their numbers stay taken. */
	unpublishPackage(rev: string, actor: Actor): Result<{ removedKeys: string[] }> {
		return this.transact(() => {
			const pkg = this.livePackage();
			if (!pkg) return refuse("notFound", "not_found");
			if (rev !== revision(pkg)) {
				return refuse("revisionMismatch", `document update conflict: _rev ${rev} is not current`);
			}
			const now = new Date().toISOString();
			const versions = this.versions.all().map((row) => row.version);
			const keys = versions.flatMap((version) => this.versions.remove(version, actor.label, now));
			for (const channel of this.channels.list()) this.channels.remove(channel.channel);
			this.sql.exec(`UPDATE package SET unpublished_at = ?`, now);
			this.commit(now, { actor, action: "unpublish", target: "*", detail: { versions } });
			return { ok: true, removedKeys: keys };
		});
	}

	/** The tarball DELETE npm sends after removing a version: removes it if it is still there. */
	removeTarball(version: string, rev: string, force: boolean, actor: Actor): Result<{ removedKeys: string[] }> {
		return this.transact(() => {
			const pkg = this.livePackage();
			if (!pkg) return refuse("notFound", "not_found");
			if (this.versions.wasRemoved(version)) return { ok: true, removedKeys: [] };
			if (!this.versions.get(version)) return refuse("notFound", `version ${version} does not exist`);
			if (rev !== revision(pkg)) {
				return refuse("revisionMismatch", `document update conflict: _rev ${rev} is not current`);
			}
			const now = new Date().toISOString();
			const removed = this.removeVersions([version], force, actor, now);
			if (!removed.ok) return removed;
			this.commit(now, { actor, action: "unpublish", target: version, detail: { force } });
			return { ok: true, removedKeys: removed.keys };
		});
	}

	/** Publishes a version to a channel: one new history row linked to the channel's current row. */
	moveChannel(channel: string, ref: VersionRef, actor: Actor): Result<{ view: ChannelView }> {
		return this.transact(() => {
			const pkg = this.livePackage();
			if (!pkg) return refuse("notFound", "not_found");
			const row = "versionId" in ref ? this.versions.byId(ref.versionId) : this.versions.get(ref.version);
			if (!row) return refuse("notFound", `version ${"versionId" in ref ? ref.versionId : ref.version} not found`);
			const now = new Date().toISOString();
			const state = this.channels.move(channel, row.version, actor.label, now);
			this.commit(now, { actor, action: "channel.move", target: channel, detail: { version: row.version } });
			return { ok: true, view: this.channelView(pkg, state) };
		});
	}

	/** Moves a channel back one step of its own chain, or to a chosen earlier row of it. */
	rollbackChannel(channel: string, to: number | undefined, actor: Actor): Result<{ view: ChannelView }> {
		return this.transact(() => {
			const pkg = this.livePackage();
			if (!pkg) return refuse("notFound", "not_found");
			const moved = this.channels.rollback(channel, to);
			if (!moved.ok) return moved;
			this.commit(new Date().toISOString(), {
				actor,
				action: "channel.rollback",
				target: channel,
				detail: { version: moved.state.version, historyId: moved.state.historyId },
			});
			return { ok: true, view: this.channelView(pkg, moved.state) };
		});
	}

	/** Points `to` at the version `from` points at now. */
	promoteChannel(to: string, from: string, actor: Actor): Result<{ view: ChannelView }> {
		return this.transact(() => {
			const pkg = this.livePackage();
			if (!pkg) return refuse("notFound", "not_found");
			const source = this.channels.get(from);
			if (!source) return refuse("notFound", `channel "${from}" does not exist`);
			const now = new Date().toISOString();
			const state = this.channels.move(to, source.version, actor.label, now);
			this.commit(now, { actor, action: "channel.promote", target: to, detail: { from, version: source.version } });
			return { ok: true, view: this.channelView(pkg, state) };
		});
	}

	/** `npm dist-tag rm` and DELETE …/channels/{channel}: the pointer and its whole chain go. */
	removeChannel(channel: string, actor: Actor): Result<{ tags: Record<string, string> }> {
		return this.transact(() => {
			if (!this.livePackage()) return refuse("notFound", "not_found");
			if (channel === "latest") return refuse("badRequest", "the latest tag cannot be deleted");
			if (!this.channels.remove(channel)) return refuse("notFound", `tag "${channel}" does not exist`);
			this.commit(new Date().toISOString(), { actor, action: "channel.remove", target: channel });
			return { ok: true, tags: this.channels.distTags() };
		});
	}

	/** Deletes one version through the channels API; protected versions need `force` (admins only). */
	deleteVersion(ref: VersionRef, force: boolean, actor: Actor): Result<{ version: string; removedKeys: string[] }> {
		return this.transact(() => {
			if (!this.livePackage()) return refuse("notFound", "not_found");
			const row = "versionId" in ref ? this.versions.byId(ref.versionId) : this.versions.get(ref.version);
			if (!row) return refuse("notFound", "version not found");
			if (this.versions.all().length === 1) {
				return refuse("conflict", "this is the only version: unpublish the package instead");
			}
			const now = new Date().toISOString();
			const removed = this.removeVersions([row.version], force, actor, now);
			if (!removed.ok) return removed;
			this.commit(now, { actor, action: "unpublish", target: row.version, detail: { force } });
			return { ok: true, version: row.version, removedKeys: removed.keys };
		});
	}

	/** npm access set status=… / mfa=…: who may read the package, and whether writes need TOTP. */
	setAccess(change: { access?: Access; requireTwoFactor?: boolean }, actor: Actor): Result<{ access: Access }> {
		return this.transact(() => {
			const pkg = this.livePackage();
			if (!pkg) return refuse("notFound", "not_found");
			if (change.access !== undefined) this.sql.exec(`UPDATE package SET access = ?`, change.access);
			if (change.requireTwoFactor !== undefined) {
				this.sql.exec(`UPDATE package SET require_two_factor = ?`, change.requireTwoFactor ? 1 : 0);
			}
			this.commit(new Date().toISOString(), { actor, action: "access", target: null, detail: change });
			return { ok: true, access: change.access ?? pkg.access };
		});
	}

	/** npm owner add/rm: the maintainers shown in the packument (grants live in the AuthStoreDO). */
	setMaintainers(maintainers: Person[], actor: Actor): Result<{ rev: string }> {
		return this.transact(() => {
			if (!this.livePackage()) return refuse("notFound", "not_found");
			const before = this.versions.maintainers().map((m) => m.name);
			this.versions.replaceMaintainers(maintainers);
			const after = maintainers.map((m) => m.name);
			const rev = this.commit(new Date().toISOString(), {
				actor,
				action: "owner.change",
				target: null,
				detail: { added: after.filter((n) => !before.includes(n)), removed: before.filter((n) => !after.includes(n)) },
			});
			return { ok: true, rev };
		});
	}

	auditLog(filter: AuditFilter): Found<{ entries: AuditEntry[] }> {
		const pkg = this.package();
		if (!pkg) return { found: false };
		return { found: true, access: pkg.access, entries: queryAudit(this.sql, filter) };
	}

	// ── background work ────────────────────────────────────────────────────────────────────────

	/**
	 * One alarm does all deferred work: write buffered download counts, then tell the search
	 * index about the package when it changed since the index last heard (or when its weekly
	 * downloads changed and the last push is old enough). A failed delivery is retried with
	 * backoff until it succeeds, so the index converges.
	 */
	override async alarm(): Promise<void> {
		this.alarmAt = null;
		const now = Date.now();
		if (this.downloads.pending) this.ctx.storage.transactionSync(() => this.downloads.flush());
		const pkg = this.package();
		if (pkg) {
			const outbox = this.sql
				.exec<{ delivered_rev: number; delivered_weekly: number; delivered_at: number; failures: number }>(
					`SELECT * FROM index_outbox`,
				)
				.one();
			const weekly = this.downloads.weeklyTotal();
			const pushEvery = seconds(this.env.SEARCH_DOWNLOADS_PUSH_SECONDS, 300) * 1000;
			const changed = pkg.rev !== outbox.delivered_rev;
			const downloadsMoved = weekly !== outbox.delivered_weekly;
			if (changed || (downloadsMoved && now - outbox.delivered_at >= pushEvery)) {
				try {
					await this.deliverToIndex(pkg);
					this.sql.exec(
						`UPDATE index_outbox SET delivered_rev = ?, delivered_weekly = ?, delivered_at = ?, failures = 0`,
						pkg.rev,
						weekly,
						now,
					);
				} catch (error) {
					const failures = outbox.failures + 1;
					this.sql.exec(`UPDATE index_outbox SET failures = ?`, failures);
					console.error(`search index delivery failed (${failures}) for ${pkg.name}`, error);
					this.scheduleAlarm(now + Math.min(300, 2 ** failures) * 1000);
				}
			} else if (downloadsMoved) {
				this.scheduleAlarm(outbox.delivered_at + pushEvery);
			}
		}
		if (this.downloads.pending) this.scheduleAlarm(now + seconds(this.env.DOWNLOAD_FLUSH_SECONDS, 5) * 1000);
	}

	private async deliverToIndex(pkg: PackageRow): Promise<void> {
		const index = searchIndex(this.env);
		const doc = this.searchDocument();
		if (doc) await index.upsert(doc);
		else await index.remove(pkg.name, pkg.rev);
	}

	/** Sets the alarm unless one this instance knows of is already due sooner. */
	private scheduleAlarm(at: number): void {
		if (this.alarmAt !== null && this.alarmAt <= at) return;
		this.alarmAt = at;
		void this.ctx.storage.setAlarm(at);
	}

	// ── internals ──────────────────────────────────────────────────────────────────────────────

	/**
	 * Runs a write as one transaction; a refusal rolls back everything the write did before it.
	 * A committed write wakes the alarm, which tells the search index.
	 */
	private transact<T>(write: () => Result<T>): Result<T> {
		const result = transact(this.ctx.storage, write);
		if (!result.ok) return result;
		this.scheduleAlarm(Date.now());
		return result;
	}

	private package(): PackageRow | null {
		return this.sql.exec<PackageRow>(`SELECT * FROM package`).toArray()[0] ?? null;
	}

	/** The package, unless it was never published or everything in it was unpublished. */
	private livePackage(): PackageRow | null {
		const pkg = this.package();
		return pkg && pkg.unpublished_at === null ? pkg : null;
	}

	private ensurePackage(name: string, access: Access, now: string): PackageRow {
		const existing = this.package();
		if (existing) return existing;
		this.sql.exec(
			`INSERT INTO package (singleton, name, package_id, access, created_at, modified_at, rev, rev_hash, base_placeholder)
			 VALUES (1, ?, ?, ?, ?, ?, 0, '', ?)`,
			name,
			crypto.randomUUID(),
			access,
			now,
			now,
			`registry-base-${randomHex(16)}`,
		);
		return this.sql.exec<PackageRow>(`SELECT * FROM package`).one();
	}

	private removeVersions(
		versions: string[],
		force: boolean,
		actor: Actor,
		now: string,
	): { ok: true; keys: string[] } | Refusal {
		for (const version of versions) {
			const protecting = this.channels.protectingChannels(version);
			if (protecting.length > 0 && !force) {
				return refuse(
					"protectedVersion",
					`version ${version} is protected: it is among the last entries of the history of ${protecting
						.map((c) => `"${c}"`)
						.join(", ")}; remove it from those channels first, or an admin can delete it with force=true`,
				);
			}
		}
		const keys: string[] = [];
		for (const version of versions) {
			keys.push(...this.versions.remove(version, actor.label, now));
			this.channels.spliceVersion(version);
		}
		if (versions.length > 0) this.repairLatest(actor, now);
		return { ok: true, keys };
	}

	/** npm expects `latest` while any version exists: if splicing removed it, it goes to the highest. */
	private repairLatest(actor: Actor, now: string): void {
		if (this.channels.get("latest")) return;
		const remaining = this.versions.all().map((v) => v.version);
		const stable = remaining.filter((v) => semver.prerelease(v) === null);
		const highest = semver.rsort(stable.length > 0 ? stable : remaining)[0];
		if (highest) this.channels.move("latest", highest, actor.label, now);
	}

	private channelView(pkg: PackageRow, state: ChannelState): ChannelView {
		const row = this.versions.get(state.version);
		return {
			packageId: pkg.package_id,
			channel: state.channel,
			versionId: row?.version_id ?? "",
			version: state.version,
			publishedAt: state.at,
			historyId: state.historyId,
			entryPath: row?.entry_path ?? null,
			entryIntegrity: row?.entry_integrity ?? null,
		};
	}

	private resolveSpec(spec: string): string | null {
		if (this.versions.get(spec)) return spec;
		const tagged = this.channels.get(spec);
		if (tagged) return tagged.version;
		if (semver.validRange(spec) === null) return null;
		return semver.maxSatisfying(
			this.versions.all().map((v) => v.version),
			spec,
		);
	}

	/**
	 * The last step of every write: records it in the audit trail, bumps the revision and rebuilds
	 * the stored packuments (the transaction then wakes the alarm, which tells the search index).
	 */
	private commit(now: string, audit: Audit): string {
		recordAudit(this.sql, audit.actor, audit.action, audit.target, audit.detail ?? null);
		this.sql.exec(`UPDATE package SET rev = rev + 1, rev_hash = ?, modified_at = ?`, randomHex(16), now);
		const pkg = this.sql.exec<PackageRow>(`SELECT * FROM package`).one();
		const versions = this.versions.all();
		const tags = this.channels.distTags();
		const maintainers = this.versions.maintainers();
		const documents = {
			full: fullPackument(pkg, versions, tags, maintainers),
			abbreviated: abbreviatedPackument(pkg, versions, tags, maintainers),
		};
		for (const [kind, doc] of Object.entries(documents)) {
			this.sql.exec(
				`INSERT INTO documents (kind, body, etag) VALUES (?, ?, ?)
				 ON CONFLICT (kind) DO UPDATE SET body = excluded.body, etag = excluded.etag`,
				kind,
				JSON.stringify(doc),
				`"${revision(pkg)}-${kind === "full" ? "f" : "a"}"`,
			);
		}
		return revision(pkg);
	}
}

type Audit = { actor: Actor; action: string; target: string | null; detail?: Record<string, unknown> };

function seconds(value: string | undefined, fallback: number): number {
	const parsed = Number(value);
	return Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
}

function versionView(pkg: PackageRow, row: VersionRow): VersionView {
	return {
		packageId: pkg.package_id,
		versionId: row.version_id,
		version: row.version,
		publishedAt: row.published_at,
		entryPath: row.entry_path,
		entryIntegrity: row.entry_integrity,
		deprecated: row.deprecated,
	};
}

function person(actor: Actor): Person {
	return actor.email ? { name: actor.name, email: actor.email } : { name: actor.name };
}

export type { Actor, ChannelState };
