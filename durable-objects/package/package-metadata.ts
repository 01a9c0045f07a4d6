import { DurableObject } from "cloudflare:workers";
import semver from "semver";
import type { Actor, AuditFilter } from "../../schema/audit";
import type { DumpCursor, PackageHead, PackageRows } from "../../schema/backup/contract";
import { config } from "../../schema/config";
import { ok, type Refusal, type Result } from "../../schema/errors";
import { etagMatches } from "../../schema/etag";
import { LIMITS } from "../../schema/limits";
import { splitName } from "../../schema/names";
import {
	type AccessChange,
	type ChannelView,
	type ImportMetadataInput,
	type ImportVersionInput,
	PAGE_DOWNLOAD_DAYS,
	type PackageMetadataContract,
	type PackageUpdate,
	type Person,
	type PublishInput,
	type Readable,
	type RolloutEventDetail,
	type ServedDocument,
	type TarballLocation,
	type UpstreamNote,
	type VersionRef,
} from "../../schema/package/contract";
import { packageMetadataMigrations } from "../../schema/package/migrations";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import { refusals } from "../../schema/refusals";
import { RECENT_DOWNLOAD_DAYS } from "../../schema/search/contract";
import type { Provenance, StagedVersion } from "../../schema/trust/contract";
import { upstreamMayServe } from "../../schema/upstream";
import { queryAudit, recordAudit } from "../audit";
import { Schema } from "../migrations";
import { authStoreObject } from "../stubs";
import { transact } from "../transaction";
import { type ChannelState, Channels } from "./channels";
import { Claim } from "./claim";
import { Documents, type PackumentForm } from "./documents";
import { Downloads } from "./downloads";
import { beginRestore, exportHead, exportRows, restoreRows } from "./export";
import { type ImportParts, importMetadata, importVersion } from "./import";
import { followLatest } from "./latest-follows";
import { PackageRecord, revision } from "./package-record";
import { versionDocument } from "./packument";
import { packagePage } from "./page";
import { Readmes } from "./readmes";
import { RETENTION_BATCH, RETENTION_CHECK_EVERY_MS, Retention } from "./retention";
import { Rollouts } from "./rollouts";
import { searchDocument } from "./search-document";
import { SearchOutbox } from "./search-outbox";
import { signaturesForUnsigned } from "./signature-backfill";
import { StagedVersions } from "./staged";
import { UpstreamMirror } from "./upstream";
import { Versions } from "./versions";

// One object per package name (idFromName(name)): the single writer of that package. Every rule
// about the package (a version exists once, a tag points at a real version, a channel's history
// is a chain) is checked here. Each public method is the contract (schema/package/contract.ts):
// a read goes through `read`, a change through `write`, which runs it as one SQLite transaction,
// records it in the audit trail, bumps the revision, rebuilds the stored packuments and wakes the
// alarm (download counts, the search index). A name that is not this registry's (none published
// or claimed here, outside the owned scopes) is served from the upstream registry's copy, which
// the object keeps (upstream.ts); local and upstream never mix in one answer.

/** What a write did, for the audit trail, and what it answers. */
type Change<T> = {
	value: T;
	action: string;
	target: string | null;
	detail?: Record<string, unknown>;
	/** The package's `modified` after the change, when it is not now (an import keeps the source's). */
	modifiedAt?: string;
};

/** Every write answers with the revision it committed. */
type Written<T> = T & { rev: string };

export class PackageMetadataDO extends DurableObject<Env> implements PackageMetadataContract {
	private readonly sql: SqlStorage;
	private readonly record: PackageRecord;
	private readonly versionRows: Versions;
	private readonly channelRows: Channels;
	private readonly documents: Documents;
	private readonly readmes: Readmes;
	private readonly downloads: Downloads;
	private readonly outbox: SearchOutbox;
	private readonly rollouts: Rollouts;
	private readonly retention: Retention;
	private readonly claims: Claim;
	private readonly upstream: UpstreamMirror;
	private readonly stagedRows: StagedVersions;
	private readonly schema: Schema;
	/** When this object's alarm is due, as far as this instance has set it (null: not known to be set). */
	private alarmAt: number | null = null;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		this.record = new PackageRecord(this.sql);
		this.versionRows = new Versions(this.sql);
		this.channelRows = new Channels(this.sql);
		this.documents = new Documents(this.sql);
		this.readmes = new Readmes(this.sql);
		this.downloads = new Downloads(this.sql);
		this.outbox = new SearchOutbox(this.sql, env);
		this.rollouts = new Rollouts(this.sql);
		this.retention = new Retention(this.sql, this.channelRows, this.rollouts);
		this.claims = new Claim(this.sql);
		this.stagedRows = new StagedVersions(this.sql);
		this.upstream = new UpstreamMirror(this.sql, env, {
			schemaReady: () => this.schema.ready,
			ownsName: (name) => this.ownsName(name),
			ensureSchema: () => this.schema.ensure(),
			transaction: (body) => ctx.storage.transactionSync(body),
			wake: (at) => this.scheduleAlarm(at),
			waitUntil: (promise) => ctx.waitUntil(promise),
		});
		// A name that was only ever read has no storage: nothing to migrate, no alarm to know of.
		this.schema = new Schema(ctx.storage, packageMetadataMigrations);
		if (this.schema.ready) {
			ctx.blockConcurrencyWhile(async () => {
				this.alarmAt = await ctx.storage.getAlarm();
				// Versions from before the registry signed: the alarm signs them. Pre-release versions: the
				// alarm applies the retention policy to them once a day.
				if (this.versionRows.unsigned(1).length > 0) this.scheduleAlarm(Date.now());
				if (this.versionRows.all().some((v) => semver.prerelease(v.version) !== null)) {
					this.scheduleAlarm(this.retention.lastCheck() + RETENTION_CHECK_EVERY_MS);
				}
			});
		}
	}

	// ── reads ──────────────────────────────────────────────────────────────────────────────────

	info() {
		if (this.upstreamPackage() !== null) return this.notHere();
		return this.read((pkg) =>
			ok({
				packageId: pkg.package_id,
				name: pkg.name,
				requireTwoFactor: pkg.require_two_factor === 1,
				rev: revision(pkg),
			}),
		);
	}

	revision(name: string): string | null {
		if (!this.ownsName(name)) return this.upstream.revision(name);
		const pkg = this.schema.ready ? this.record.live() : null;
		return pkg ? revision(pkg) : null;
	}

	packument(form: PackumentForm, ifNoneMatch: string | null) {
		return this.read((pkg) => {
			const doc = this.documents.get(form);
			const fresh = etagMatches(ifNoneMatch, doc.etag);
			return ok({
				etag: doc.etag,
				modified: pkg.modified_at,
				body: fresh ? null : doc.body,
				placeholder: pkg.base_placeholder,
			});
		});
	}

	versionDocument(spec: string) {
		return this.read((pkg) => {
			// Ranges are matched against every version: their size bounds the work of one request.
			if (spec.length > LIMITS.rangeLength || spec.split("||").length > LIMITS.rangeAlternatives) {
				return refusals.rangeTooComplex();
			}
			const row = this.resolveSpec(spec);
			if (!row) return refusals.versionNotFound(spec);
			const body = JSON.stringify(versionDocument(pkg, row, this.versionRows.maintainers()));
			return ok({ body, placeholder: pkg.base_placeholder });
		});
	}

	tarball(version: string, options: { count: boolean; mayReadRestricted: boolean }): Result<Readable<TarballLocation>> {
		// A name with no package here may have upstream tarballs stored (never counted as downloads).
		const stored = this.upstreamCopies() !== null ? this.upstream.storedTarball(version) : null;
		if (stored) return ok({ ...stored, access: "public" as const, rev: this.upstream.copiesRevision() });
		return this.read((pkg) => {
			const row = this.versionRows.get(version);
			if (!row) return refusals.versionNotFound(version);
			if (options.count && (pkg.access === "public" || options.mayReadRestricted)) {
				this.downloads.count(version);
				this.scheduleAlarm(Date.now() + config(this.env).downloadFlushMs);
			}
			return ok({ key: row.tarball_key, size: row.tarball_size, integrity: row.integrity });
		});
	}

	countDownloads(counts: Record<string, number>): void {
		if (!this.schema.ready) return;
		for (const [version, count] of Object.entries(counts)) {
			if (this.versionRows.get(version)) this.downloads.count(version, count);
		}
		this.scheduleAlarm(Date.now() + config(this.env).downloadFlushMs);
	}

	file(version: string, path: string) {
		return this.read(() => {
			const row = this.versionRows.get(version);
			const file = row ? this.versionRows.file(version, path) : null;
			if (!row || !file) return refusals.fileNotFound();
			return ok({ key: row.files_key, file });
		});
	}

	/** A version's files for the page's file browser (#24.9): the first `limit` paths, and how many there are. */
	fileList(version: string, limit: number) {
		return this.read(() => {
			const row = this.versionRows.get(version);
			if (!row) return refusals.versionNotFound(version);
			return ok({ version: row.version, total: row.file_count, files: this.versionRows.fileList(version, limit) });
		});
	}

	downloadCounts(start: string, end: string) {
		return this.read(() =>
			ok({ perDay: this.downloads.perDay(start, end), perVersion: this.downloads.perVersion(start, end) }),
		);
	}

	maintainers() {
		return this.read((pkg) => ok({ maintainers: this.versionRows.maintainers(), rev: revision(pkg) }));
	}

	distTags() {
		return this.read(() => ok({ tags: this.channelRows.distTags() }));
	}

	channels() {
		return this.read((pkg) =>
			ok({
				packageId: pkg.package_id,
				channels: this.channelRows.list().map((state) => this.channelView(pkg, state)),
			}),
		);
	}

	channel(channel: string) {
		return this.read((pkg) => {
			const state = this.channelRows.get(channel);
			return state ? ok(this.channelView(pkg, state)) : refusals.channelNotFound(channel);
		});
	}

	channelHistory(channel: string) {
		return this.read(() => {
			const rows = this.channelRows.history(channel);
			if (!rows) return refusals.channelNotFound(channel);
			const ids = new Map(this.versionRows.all().map((v) => [v.version, v.version_id]));
			const entries = rows.map((row) => ({
				id: row.id,
				channel: row.channel,
				version: row.version,
				versionId: ids.get(row.version) ?? "",
				previousHistoryId: row.previous_history_id,
				at: row.at,
				by: row.by,
				current: row.current,
				event: row.event,
				detail: row.detail === null ? null : (JSON.parse(row.detail) as RolloutEventDetail),
			}));
			return ok({ entries });
		});
	}

	versions() {
		return this.read((pkg) =>
			ok({ packageId: pkg.package_id, versions: this.versionRows.all().map((row) => versionView(pkg, row)) }),
		);
	}

	version(ref: VersionRef) {
		return this.read((pkg) => {
			const row = this.versionByRef(ref);
			return row ? ok(versionView(pkg, row)) : refusals.versionNotFound(refName(ref));
		});
	}

	page(spec: string | null) {
		return this.read((pkg) => {
			const distTags = this.channelRows.distTags();
			const versions = this.versionRows.all();
			const selected =
				spec === null
					? (versions.find((v) => v.version === distTags.latest) ?? versions.at(-1))
					: (this.versionRows.get(spec) ?? this.versionRows.get(distTags[spec] ?? ""));
			if (!selected) return refusals.versionNotFound(spec ?? "latest");
			const channels = this.channelRows.list().map((state) => ({
				channel: state.channel,
				historyId: state.historyId,
				version: state.version,
				history: this.channelRows.history(state.channel) ?? [],
				targets: this.channelRows.rollbackTargets(state.channel),
				rollout: this.rollouts.get(state.channel),
			}));
			return ok(
				packagePage({
					pkg,
					versions,
					selected,
					readmeHtml: this.readmes.get(selected.version),
					distTags,
					maintainers: this.versionRows.maintainers(),
					channels,
					downloads: this.downloads.lastDays(PAGE_DOWNLOAD_DAYS),
				}),
			);
		});
	}

	/** The audit trail outlives a full unpublish, so it reads the package row whatever its state. */
	auditLog(filter: AuditFilter) {
		const pkg = this.schema.ready ? this.record.get() : null;
		// A claimed name has a trail (the claim) before anything is published under it.
		const claim = this.schema.ready ? this.claims.get() : null;
		if (!pkg && !claim) return refusals.packageNotFound();
		const live = pkg?.unpublished_at === null;
		const access = pkg?.access ?? "restricted";
		return ok({ entries: queryAudit(this.sql, filter), live, access, rev: pkg ? revision(pkg) : "0-claimed" });
	}

	/** Not a `read`: the document carries its own `rev` (a number), which the index orders by. */
	searchDocument() {
		const pkg = this.schema.ready ? this.record.live() : null;
		const doc = pkg ? this.buildSearchDocument(pkg) : null;
		return doc ? ok(doc) : refusals.packageNotFound();
	}

	blobKeys(): string[] {
		if (!this.schema.ready) return [];
		return [
			...this.versionRows.all().flatMap((row) => [row.tarball_key, row.files_key]),
			...this.stagedRows.blobKeys(),
		];
	}

	firstFreeVersion(candidates: string[]): string | null {
		if (!this.schema.ready) return candidates[0] ?? null;
		return candidates.find((v) => !this.versionRows.isTaken(v)) ?? null;
	}

	// ── the name as clients see it: this registry's package, or the upstream's ─────────────────

	async servedPackument(
		name: string,
		form: PackumentForm,
		ifNoneMatch: string | null,
	): Promise<Result<Readable<ServedDocument>>> {
		if (!this.ownsName(name)) return this.upstream.packument(name, form, ifNoneMatch);
		const local = this.packument(form, ifNoneMatch);
		return local.ok ? ok({ ...local.value, upstream: null }) : local;
	}

	async servedVersionDocument(
		name: string,
		spec: string,
	): Promise<Result<Readable<{ body: string; placeholder: string; upstream: UpstreamNote | null }>>> {
		if (!this.ownsName(name)) {
			if (spec.length > LIMITS.rangeLength || spec.split("||").length > LIMITS.rangeAlternatives) {
				return refusals.rangeTooComplex();
			}
			return this.upstream.versionDocument(name, spec);
		}
		const local = this.versionDocument(spec);
		return local.ok ? ok({ ...local.value, upstream: null }) : local;
	}

	async upstreamTarball(name: string, version: string) {
		if (this.ownsName(name)) return refusals.packageNotFound();
		return this.upstream.tarball(name, version);
	}

	async admitNewPackage(name: string): Promise<Result<{ admitted: true }>> {
		if (this.ownsName(name)) return ok({ admitted: true });
		return this.upstream.admit(name);
	}

	claim(name: string, actor: Actor) {
		this.schema.ensure();
		const result = transact(this.ctx.storage, () => {
			const pkg = this.record.get();
			const existing = this.claims.get();
			if (existing || pkg) {
				return ok({
					name,
					claimedAt: existing?.claimed_at ?? pkg?.created_at ?? "",
					claimedBy: existing?.claimed_by ?? "published here",
					created: false,
					removedKeys: [] as string[],
				});
			}
			const row = this.claims.insert(name, new Date().toISOString(), actor.label);
			const removedKeys = this.upstream.forget();
			recordAudit(this.sql, actor, "claim", name, { upstreamTarballsDropped: removedKeys.length });
			return ok({ name, claimedAt: row.claimed_at, claimedBy: row.claimed_by, created: true, removedKeys });
		});
		this.scheduleAlarm(Date.now());
		return result;
	}

	// ── writes ─────────────────────────────────────────────────────────────────────────────────

	publish(input: PublishInput) {
		return this.write(input.actor, { creates: { name: input.name, access: input.access } }, (pkg, now) => {
			if (this.versionRows.isTaken(input.version)) return refusals.versionExists(input.version);
			if (!this.channelRows.hasRoomFor(input.tags)) return refusals.tooManyChannels();
			const versionId = crypto.randomUUID();
			this.versionRows.insert(
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
					signatures: input.signatures ? JSON.stringify(input.signatures) : null,
				},
				input.files.index,
			);
			if (input.readmeHtml !== null) this.readmes.put(input.version, input.readmeHtml);
			// A CI publishing as a trusted publisher is no maintainer of the package.
			if (!input.actor.trustedPublisher) this.versionRows.addMaintainer(person(input.actor));
			for (const tag of input.tags) this.channelRows.move(tag, input.version, input.actor.label, now);
			// An upload names no channel; `latest` follows it until a publisher moves it (latest-follows.ts).
			const followed =
				input.tags.length === 0
					? followLatest(
							this.channelRows,
							this.versionRows.all().map((v) => v.version),
							input.actor.label,
							now,
						)
					: null;
			const channelsMoved = followed ? [followed.channel] : input.tags;
			return ok({
				value: { versionId, packageId: pkg.package_id, channelsMoved },
				action: input.tags.length > 0 ? "publish" : "upload",
				target: input.version,
				detail: {
					versionId,
					tags: channelsMoved,
					integrity: input.tarball.integrity,
					...(input.manifestOverrides?.length ? { manifestFromTarball: input.manifestOverrides } : {}),
					...(input.actor.trustedPublisher
						? { trustedPublisher: auditedProvenance(input.actor.trustedPublisher) }
						: {}),
				},
			});
		});
	}

	/** A version copied from another registry (import.ts): its own time and deprecation, no channel moved. */
	importVersion(input: ImportVersionInput) {
		return this.write(input.actor, { creates: { name: input.name, access: input.access } }, (pkg) =>
			importVersion(this.importParts(), input, pkg),
		);
	}

	/** An imported package's dist-tags (channel moves), times, maintainers and unpublished numbers (import.ts). */
	importMetadata(input: ImportMetadataInput) {
		return this.write(input.actor, {}, (pkg, now) => importMetadata(this.importParts(), input, pkg, now));
	}

	private importParts(): ImportParts {
		const { sql, versionRows: versions, channelRows: channels, readmes, rollouts } = this;
		return { sql, versions, channels, readmes, rollouts };
	}

	// ── staged versions (npm stage; the rules are in staged.ts) ──────────────────────────────────

	stage(item: StagedVersion, input: PublishInput) {
		this.schema.ensure();
		if (this.versionRows.isTaken(input.version)) return refusals.stagedVersionTaken(input.version);
		this.ctx.storage.transactionSync(() => this.stagedRows.put(item, input));
		this.scheduleAlarm(Date.parse(item.expiresAt));
		return ok(item);
	}

	stagedVersion(id: string) {
		const staged = this.schema.ready ? this.stagedRows.get(id, new Date().toISOString()) : null;
		return staged ? ok({ item: staged.item, tarballKey: staged.input.tarball.key }) : refusals.stagedNotFound(id);
	}

	stagedVersions() {
		return this.schema.ready ? this.stagedRows.list(new Date().toISOString()) : [];
	}

	approveStaged(id: string, actor: Actor) {
		const staged = this.schema.ready ? this.stagedRows.get(id, new Date().toISOString()) : null;
		if (!staged) return refusals.stagedNotFound(id);
		// One transaction: the publish (as it was staged, checked as a publish is now) and the end of the staging.
		return transact(this.ctx.storage, () => {
			const published = this.publish(staged.input);
			if (!published.ok) return published;
			this.stagedRows.remove(id);
			recordAudit(this.sql, actor, "stage.approve", staged.input.version, {
				stageId: id,
				stagedBy: staged.input.actor.label,
			});
			return published;
		});
	}

	rejectStaged(id: string, actor: Actor) {
		const staged = this.schema.ready ? this.stagedRows.get(id, new Date().toISOString()) : null;
		if (!staged) return refusals.stagedNotFound(id);
		const removedKeys = this.ctx.storage.transactionSync(() => {
			if (this.record.get()) recordAudit(this.sql, actor, "stage.reject", staged.input.version, { stageId: id });
			return this.stagedRows.remove(id);
		});
		return ok({ removedKeys });
	}

	/** Drops expired staged versions with their bytes, and forgets them in the registry's index. */
	private async expireStaged(now: number): Promise<void> {
		const ids = this.stagedRows.expired(new Date(now).toISOString());
		if (ids.length > 0) {
			const keys = this.ctx.storage.transactionSync(() => ids.flatMap((id) => this.stagedRows.remove(id)));
			await this.env.BLOBS.delete(keys);
			await authStoreObject(this.env).unindexStaged(ids);
		}
		const next = this.stagedRows.nextExpiry();
		if (next !== null) this.scheduleAlarm(next);
	}

	/**
	 * What npm does with a document and no attachments: `npm deprecate` sets or clears (with "")
	 * `deprecated`; `npm unpublish pkg@v` sends the document without that version. Nothing else in
	 * the document is taken: tags are repaired here, descriptions come from the tarballs.
	 */
	update(input: PackageUpdate) {
		return this.write(input.actor, {}, (pkg, now) => {
			const stored = this.versionRows.all().map((row) => row.version);
			const unknown = Object.keys(input.versions).find((v) => !stored.includes(v));
			if (unknown !== undefined) {
				return this.versionRows.wasRemoved(unknown)
					? refusals.versionRemoved(unknown)
					: refusals.versionWithoutTarball(unknown);
			}
			const missing = input.removeMissing ? stored.filter((v) => !(v in input.versions)) : [];
			if (missing.length > 0 && input.rev !== revision(pkg)) return refusals.staleRevision(input.rev);
			if (missing.length === stored.length && stored.length > 0) return refusals.removesEveryVersion();
			const deprecations: Record<string, string | null> = {};
			for (const [version, { deprecated }] of Object.entries(input.versions)) {
				const current = this.versionRows.get(version)?.deprecated ?? null;
				const next = deprecated === undefined ? current : deprecated === "" ? null : deprecated;
				if (next === current) continue;
				this.versionRows.setDeprecated(version, next);
				deprecations[version] = next;
			}
			const removed = this.removeVersions(missing, input.force, input.actor, now);
			if (!removed.ok) return removed;
			return ok({
				value: { removedKeys: removed.value },
				action: missing.length > 0 ? "unpublish" : "deprecate",
				target: missing.length > 0 ? missing.join(",") : Object.keys(deprecations).join(",") || null,
				detail: missing.length > 0 ? { versions: missing, force: input.force } : { deprecations },
			});
		});
	}

	/**
	 * `npm unpublish pkg --force`: every version goes; their numbers stay taken. Refused while a
	 * channel other than `latest` exists (pages may be loading it), unless forced.
	 */
	unpublishPackage(rev: string, force: boolean, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => {
			if (rev !== revision(pkg)) return refusals.staleRevision(rev);
			const inUse = this.channelRows.loaderChannels();
			if (inUse.length > 0 && !force) return refusals.channelsInUse(inUse);
			const versions = this.versionRows.all().map((row) => row.version);
			const keys = versions.flatMap((version) => this.versionRows.remove(version, actor.label, now));
			for (const version of versions) this.readmes.remove(version);
			for (const channel of this.channelRows.list()) this.channelRows.remove(channel.channel);
			this.record.markUnpublished(now);
			return ok({ value: { removedKeys: keys }, action: "unpublish", target: "*", detail: { versions, force } });
		});
	}

	/** The tarball DELETE npm sends after removing a version: removes it if it is still there. */
	removeTarball(version: string, rev: string, force: boolean, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => {
			if (this.versionRows.wasRemoved(version)) return ok({ value: { removedKeys: [] }, skip: true });
			if (!this.versionRows.get(version)) return refusals.versionNotFound(version);
			if (rev !== revision(pkg)) return refusals.staleRevision(rev);
			const removed = this.removeVersions([version], force, actor, now);
			if (!removed.ok) return removed;
			return ok({ value: { removedKeys: removed.value }, action: "unpublish", target: version, detail: { force } });
		});
	}

	/** Deletes one version through the channels API; protected versions need `force` (any caller with `publish`). */
	deleteVersion(ref: VersionRef, force: boolean, actor: Actor) {
		return this.write(actor, {}, (_pkg, now) => {
			const row = this.versionByRef(ref);
			if (!row) return refusals.versionNotFound(refName(ref));
			if (this.versionRows.all().length === 1) return refusals.onlyVersion();
			const removed = this.removeVersions([row.version], force, actor, now);
			if (!removed.ok) return removed;
			return ok({
				value: { version: row.version, removedKeys: removed.value },
				action: "unpublish",
				target: row.version,
				detail: { force },
			});
		});
	}

	/** Publishes a version to a channel: one new history row linked to the channel's current row. */
	moveChannel(channel: string, ref: VersionRef, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => {
			const row = this.versionByRef(ref);
			if (!row) return refusals.versionNotFound(refName(ref));
			if (this.rollouts.get(channel)) return refusals.rolloutInProgress(channel);
			if (!this.channelRows.hasRoomFor([channel])) return refusals.tooManyChannels();
			const state = this.channelRows.move(channel, row.version, actor.label, now);
			return ok({
				value: this.channelView(pkg, state),
				action: "channel.move",
				target: channel,
				detail: { version: row.version },
			});
		});
	}

	/** Moves a channel back one step of its own chain, or to a chosen earlier row of it. */
	rollbackChannel(channel: string, to: number | undefined, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => {
			if (this.rollouts.get(channel)) return refusals.rolloutInProgress(channel);
			const from = this.channelRows.get(channel);
			const moved = this.channelRows.rollback(channel, to);
			if (!moved.ok) return moved;
			// The history a person reads shows the rollback too, beside the chain (#24.4).
			this.channelRows.note(channel, moved.value.version, actor.label, now, "rollback", {
				from: from?.version ?? null,
				to: moved.value.historyId,
			});
			return ok({
				value: this.channelView(pkg, moved.value),
				action: "channel.rollback",
				target: channel,
				detail: { version: moved.value.version, historyId: moved.value.historyId },
			});
		});
	}

	/** Points `to` at the version `from` points at now. */
	promoteChannel(to: string, from: string, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => {
			const source = this.channelRows.get(from);
			if (!source) return refusals.channelNotFound(from);
			if (this.rollouts.get(to)) return refusals.rolloutInProgress(to);
			if (!this.channelRows.hasRoomFor([to])) return refusals.tooManyChannels();
			const state = this.channelRows.move(to, source.version, actor.label, now, "promote", { from });
			return ok({
				value: this.channelView(pkg, state),
				action: "channel.promote",
				target: to,
				detail: { from, version: source.version },
			});
		});
	}

	/** `npm dist-tag rm` and DELETE …/channels/{channel}: the pointer and its whole chain go. */
	removeChannel(channel: string, actor: Actor) {
		return this.write(actor, {}, () => {
			if (channel === "latest") return refusals.latestIsPermanent();
			if (this.rollouts.get(channel)) return refusals.rolloutInProgress(channel);
			if (!this.channelRows.remove(channel)) return refusals.channelNotFound(channel);
			return ok({ value: { tags: this.channelRows.distTags() }, action: "channel.remove", target: channel });
		});
	}

	/** Starts a staged rollout: `percent` of the channel's clients get `ref`, the rest its target. */
	startRollout(channel: string, ref: VersionRef, percent: number, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => {
			const control = this.channelRows.get(channel);
			if (!control) return refusals.channelNotFound(channel);
			const row = this.versionByRef(ref);
			if (!row) return refusals.versionNotFound(refName(ref));
			if (this.rollouts.get(channel)) return refusals.rolloutInProgress(channel);
			if (row.version === control.version) return refusals.alreadyTarget(channel, row.version);
			this.rollouts.start(channel, row.version, percent, actor.label, now);
			this.channelRows.note(channel, row.version, actor.label, now, "rollout.start", { percent });
			return ok({
				value: this.channelView(pkg, control),
				action: "rollout.start",
				target: channel,
				detail: { version: row.version, control: control.version, percent },
			});
		});
	}

	changeRollout(channel: string, percent: number, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => {
			const rollout = this.rollouts.get(channel);
			const control = this.channelRows.get(channel);
			if (!rollout || !control) return refusals.noRollout(channel);
			this.rollouts.setPercent(channel, percent);
			this.channelRows.note(channel, rollout.version, actor.label, now, "rollout.change", {
				from: rollout.percent,
				percent,
			});
			return ok({
				value: this.channelView(pkg, control),
				action: "rollout.change",
				target: channel,
				detail: { version: rollout.version, from: rollout.percent, percent },
			});
		});
	}

	completeRollout(channel: string, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => {
			const rollout = this.rollouts.get(channel);
			if (!rollout) return refusals.noRollout(channel);
			this.rollouts.end(channel);
			const state = this.channelRows.move(channel, rollout.version, actor.label, now, "rollout.complete");
			return ok({
				value: this.channelView(pkg, state),
				action: "rollout.complete",
				target: channel,
				detail: { version: rollout.version, percent: rollout.percent },
			});
		});
	}

	revertRollout(channel: string, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => {
			const rollout = this.rollouts.get(channel);
			const control = this.channelRows.get(channel);
			if (!rollout || !control) return refusals.noRollout(channel);
			this.rollouts.end(channel);
			this.channelRows.note(channel, rollout.version, actor.label, now, "rollout.revert", { percent: rollout.percent });
			return ok({
				value: this.channelView(pkg, control),
				action: "rollout.revert",
				target: channel,
				detail: { version: rollout.version, control: control.version, percent: rollout.percent },
			});
		});
	}

	/** npm access set status=… / mfa=…: who may read the package, and whether writes need TOTP. */
	setAccess(change: AccessChange, actor: Actor) {
		return this.write(actor, {}, (pkg) => {
			if (change.access !== undefined) this.record.setAccess(change.access);
			if (change.requireTwoFactor !== undefined) this.record.setRequireTwoFactor(change.requireTwoFactor);
			return ok({ value: { access: change.access ?? pkg.access }, action: "access", target: null, detail: change });
		});
	}

	/** npm owner add/rm: the maintainers shown in the packument (grants live in the AuthStoreDO). */
	setMaintainers(maintainers: Person[], actor: Actor) {
		return this.write(actor, {}, () => {
			const before = this.versionRows.maintainers().map((m) => m.name);
			this.versionRows.replaceMaintainers(maintainers);
			const after = maintainers.map((m) => m.name);
			return ok({
				value: {},
				action: "owner.change",
				target: null,
				detail: { added: after.filter((n) => !before.includes(n)), removed: before.filter((n) => !after.includes(n)) },
			});
		});
	}

	// ── export and restore (export.ts): the package's own rows, the package row last ────────────

	exportHead(): Result<PackageHead> {
		const pkg = this.schema.ready ? this.record.get() : null;
		return pkg ? ok(exportHead(this.sql, pkg, this.versionRows.all())) : refusals.packageNotFound();
	}

	exportRows(rev: string, cursor: DumpCursor) {
		const pkg = this.schema.ready ? this.record.get() : null;
		return pkg ? exportRows(this.sql, pkg, rev, cursor) : refusals.packageNotFound();
	}

	beginRestore(head: PackageHead) {
		this.schema.ensure();
		return transact(this.ctx.storage, () => beginRestore(this.sql, head, this.record.get()));
	}

	/** The last page brings the package row: the packuments are built and the alarm tells search. */
	restoreRows(item: PackageRows) {
		this.schema.ensure();
		const result = transact(this.ctx.storage, () => {
			const restored = restoreRows(this.sql, item, this.record.get());
			const pkg = restored.ok && item.final ? this.record.get() : null;
			if (pkg) {
				const tags = this.channelRows.distTags();
				this.documents.rebuild(pkg, this.versionRows.all(), tags, this.versionRows.maintainers());
			}
			return restored;
		});
		if (result.ok && item.final) this.scheduleAlarm(Date.now());
		return result;
	}

	// ── background work ────────────────────────────────────────────────────────────────────────

	/**
	 * One alarm runs every deferred job: send the upstream figures, write buffered download counts,
	 * then tell the search index.
	 */
	override async alarm(): Promise<void> {
		this.alarmAt = null;
		const now = Date.now();
		if (this.upstream.hasActivity) await this.upstream.sendActivity();
		if (this.upstream.hasActivity) this.scheduleAlarm(now + config(this.env).downloadFlushMs);
		if (!this.schema.ready) return;
		if (this.downloads.pending) this.ctx.storage.transactionSync(() => this.downloads.flush());
		await this.expireStaged(now);
		await this.signUnsignedVersions();
		await this.applyRetention(now);
		const pkg = this.record.get();
		if (pkg) {
			const next = await this.outbox.deliver(
				{
					pkg,
					weeklyDownloads: this.downloads.weeklyTotal(),
					document: () => (pkg.unpublished_at === null ? this.buildSearchDocument(pkg) : null),
				},
				now,
				config(this.env).searchDownloadsPushMs,
			);
			if (next !== null) this.scheduleAlarm(next);
		}
		if (this.downloads.pending) this.scheduleAlarm(now + config(this.env).downloadFlushMs);
	}

	/** Signs a batch of versions published before signing existed; the next alarm takes the rest. */
	private async signUnsignedVersions(): Promise<void> {
		const pkg = this.record.live();
		if (!pkg) return;
		const signed = await signaturesForUnsigned(this.versionRows, pkg.name, config(this.env).registrySigningKey);
		if (signed.length === 0) return;
		this.write(REGISTRY, {}, () => {
			for (const { version, signatures } of signed) this.versionRows.setSignatures(version, JSON.stringify(signatures));
			return ok({
				value: {},
				action: "signatures.backfill",
				target: null,
				detail: { versions: signed.map((s) => s.version) },
			});
		});
		if (this.versionRows.unsigned(1).length > 0) this.scheduleAlarm(Date.now());
	}

	/**
	 * Removes a batch of the pre-release versions the retention policy names (their bytes too);
	 * the next alarm takes the rest. Once nothing is left, checked again a day later.
	 */
	private async applyRetention(now: number): Promise<void> {
		const pkg = this.record.live();
		if (!pkg || !this.versionRows.all().some((v) => semver.prerelease(v.version) !== null)) return;
		const checked = this.retention.lastCheck();
		if (now - checked < RETENTION_CHECK_EVERY_MS) {
			this.scheduleAlarm(checked + RETENTION_CHECK_EVERY_MS);
			return;
		}
		const policy = await authStoreObject(this.env).retentionPolicy(splitName(pkg.name).scope);
		const removable = policy.days === null ? [] : this.retention.removable(this.versionRows.all(), policy.days, now);
		const batch = removable.slice(0, RETENTION_BATCH);
		if (batch.length > 0) {
			const removed = this.write(REGISTRY, {}, (_pkg, at) => {
				const keys = this.removeVersions(batch, false, REGISTRY, at);
				if (!keys.ok) return keys;
				return ok({
					value: { keys: keys.value },
					action: "retention.remove",
					target: batch.join(","),
					detail: { versions: batch, days: policy.days, policy: policy.source },
				});
			});
			// Bytes after the commit: a failed deletion leaves only what the reindex sweep removes.
			if (removed.ok && removed.value.keys.length > 0) await this.env.BLOBS.delete(removed.value.keys);
		}
		if (removable.length > batch.length) {
			this.scheduleAlarm(Date.now());
			return;
		}
		this.ctx.storage.transactionSync(() => this.retention.markChecked(now));
		this.scheduleAlarm(now + RETENTION_CHECK_EVERY_MS);
	}

	// ── the read and write paths ───────────────────────────────────────────────────────────────

	/** A read of the live package; its refusals carry the access, so only readers see them. */
	private read<T extends object>(body: (pkg: PackageRow) => Result<T>): Result<Readable<T>> {
		const pkg = this.schema.ready ? this.record.live() : null;
		if (!pkg) return refusals.packageNotFound();
		const result = body(pkg);
		return result.ok
			? ok({ ...result.value, access: pkg.access, rev: revision(pkg) })
			: { ...result, access: pkg.access };
	}

	/**
	 * A change, as one transaction: the live package (or, for `creates`, the one a publish claims),
	 * the change itself, then the commit (audit row, new revision, rebuilt packuments). A refusal
	 * rolls back everything; a committed change wakes the alarm, which tells the search index. A
	 * change that finds nothing to do answers `skip` and commits nothing.
	 */
	private write<T>(
		actor: Actor,
		options: { creates?: { name: string; access: PackageRow["access"] } },
		change: (pkg: PackageRow, now: string) => Result<Change<T> | { value: T; skip: true }>,
	): Result<Written<T>> {
		if (!options.creates && !this.schema.ready) return refusals.packageNotFound();
		this.schema.ensure();
		const result = transact(this.ctx.storage, (): Result<Written<T>> => {
			const now = new Date().toISOString();
			if (options.creates && !this.ownsName(options.creates.name)) {
				// The Worker asked admitNewPackage first; this holds even if upstream answered since.
				if (this.upstream.hasCopy()) return refusals.upstreamName(options.creates.name);
				this.upstream.forget();
			}
			const pkg = options.creates
				? this.record.claim(options.creates.name, options.creates.access, now)
				: this.record.live();
			if (!pkg) return this.notHere();
			const changed = change(pkg, now);
			if (!changed.ok) return changed;
			if ("skip" in changed.value) return ok({ ...changed.value.value, rev: revision(pkg) });
			const { value, action, target, detail, modifiedAt } = changed.value;
			recordAudit(this.sql, actor, action, target, detail ?? null);
			const committed = this.record.bumpRevision(modifiedAt ?? now);
			this.documents.rebuild(
				committed,
				this.versionRows.all(),
				this.channelRows.distTags(),
				this.versionRows.maintainers(),
			);
			return ok({ ...value, rev: revision(committed) });
		});
		if (result.ok) this.scheduleAlarm(Date.now());
		return result;
	}

	/**
	 * Whether the name is this registry's: a package was published here (even if it was since
	 * unpublished), an admin claimed it, or it may not come from upstream at all (no upstream is
	 * configured, or its scope is owned). Only other names are ever asked upstream.
	 */
	private ownsName(name: string): boolean {
		if (!upstreamMayServe(config(this.env), splitName(name).scope)) return true;
		return this.schema.ready && (this.record.get() !== null || this.claims.get() !== null);
	}

	/**
	 * The name this object keeps upstream copies for, while they are what it serves: the name is
	 * not (or no longer) this registry's. Null otherwise, including after OWNED_SCOPES or
	 * UPSTREAM_URL changed so that it is.
	 */
	private upstreamCopies(): string | null {
		const name = this.schema.ready ? this.upstream.copyName() : null;
		return name !== null && !this.ownsName(name) ? name : null;
	}

	/** The name of the upstream package this object serves (upstream has it), or null. */
	private upstreamPackage(): string | null {
		const name = this.upstreamCopies();
		return name !== null && this.upstream.hasCopy() ? name : null;
	}

	/** The refusal for a write or lookup of a package that is not here: an upstream package says so. */
	private notHere(): Refusal {
		const name = this.upstreamPackage();
		return name === null ? refusals.packageNotFound() : refusals.upstreamReadOnly(name);
	}

	/** Sets the alarm unless one this instance knows of is already due sooner. */
	private scheduleAlarm(at: number): void {
		if (this.alarmAt !== null && this.alarmAt <= at) return;
		this.alarmAt = at;
		void this.ctx.storage.setAlarm(at);
	}

	// ── rules ──────────────────────────────────────────────────────────────────────────────────

	/** Versions that channel history protects stay unless forced; the rest go, spliced out of every chain. */
	private removeVersions(versions: string[], force: boolean, actor: Actor, now: string): Result<string[]> | Refusal {
		for (const version of versions) {
			const protecting = this.channelRows.protectingChannels(version);
			if (protecting.length > 0 && !force) {
				return refusals.protectedVersion(this.record.get()?.name ?? "", version, protecting);
			}
		}
		const keys: string[] = [];
		for (const version of versions) {
			keys.push(...this.versionRows.remove(version, actor.label, now));
			this.readmes.remove(version);
			this.channelRows.spliceVersion(version);
			this.rollouts.endFor(version);
		}
		if (versions.length > 0) this.repairLatest(actor, now);
		return ok(keys);
	}

	/** npm expects `latest` while any version exists: if splicing removed it, it goes to the highest. */
	private repairLatest(actor: Actor, now: string): void {
		if (this.channelRows.get("latest")) return;
		const remaining = this.versionRows.all().map((v) => v.version);
		const stable = remaining.filter((v) => semver.prerelease(v) === null);
		const highest = semver.rsort(stable.length > 0 ? stable : remaining)[0];
		if (highest) this.channelRows.move("latest", highest, actor.label, now);
	}

	/** A version number, a tag, or the highest version a range allows (as the npm registry does). */
	private resolveSpec(spec: string): VersionRow | null {
		const exact = this.versionRows.get(spec);
		if (exact) return exact;
		const tagged = this.channelRows.get(spec);
		if (tagged) return this.versionRows.get(tagged.version);
		if (semver.validRange(spec) === null) return null;
		const best = semver.maxSatisfying(
			this.versionRows.all().map((v) => v.version),
			spec,
		);
		return best === null ? null : this.versionRows.get(best);
	}

	private versionByRef(ref: VersionRef): VersionRow | null {
		return "versionId" in ref ? this.versionRows.byId(ref.versionId) : this.versionRows.get(ref.version);
	}

	private channelView(pkg: PackageRow, state: ChannelState): ChannelView {
		const row = this.versionRows.get(state.version);
		const rollout = this.rollouts.get(state.channel);
		const candidate = rollout ? this.versionRows.get(rollout.version) : null;
		return {
			packageId: pkg.package_id,
			channel: state.channel,
			versionId: row?.version_id ?? "",
			version: state.version,
			publishedAt: state.at,
			historyId: state.historyId,
			entryPath: row?.entry_path ?? null,
			entryIntegrity: row?.entry_integrity ?? null,
			rollout:
				rollout && candidate
					? {
							version: rollout.version,
							versionId: candidate.version_id,
							percent: rollout.percent,
							salt: rollout.salt,
							startedAt: rollout.started_at,
							startedBy: rollout.started_by,
							entryPath: candidate.entry_path,
							entryIntegrity: candidate.entry_integrity,
						}
					: null,
		};
	}

	private buildSearchDocument(pkg: PackageRow) {
		return searchDocument(
			pkg,
			this.versionRows.all(),
			this.channelRows.distTags(),
			this.versionRows.maintainers(),
			this.downloads.weeklyTotal(),
			this.downloads.lastDays(RECENT_DOWNLOAD_DAYS),
		);
	}
}

function versionView(pkg: PackageRow, row: VersionRow) {
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

/** The registry itself, as the actor of the changes it makes on its own (signing old versions). */
const REGISTRY: Actor = { name: "registry", prefix: null, ip: null, label: "registry" };

function refName(ref: VersionRef): string {
	return "versionId" in ref ? ref.versionId : ref.version;
}

/** Where a trusted publisher's publish came from, as its audit row names it. */
function auditedProvenance(from: Provenance) {
	const { provider, repository, workflow, ref, commit, run, environment } = from;
	return { provider, repository, workflow, ref, commit, run, environment };
}

function person(actor: Actor): Person {
	const trusted = actor.trustedPublisher;
	return {
		name: actor.name,
		...(actor.email ? { email: actor.email } : {}),
		...(trusted ? { trustedPublisher: { id: trusted.provider, oidcConfigId: trusted.configId, ...trusted } } : {}),
	};
}
