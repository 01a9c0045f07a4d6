import { DurableObject } from "cloudflare:workers";
import type { Actor, AuditFilter } from "../../schema/audit";
import type { DumpCursor, PackageRows as ExportedRows, PackageHead } from "../../schema/backup/contract";
import { config } from "../../schema/config";
import { ok, type Refusal, type Result } from "../../schema/errors";
import { splitName } from "../../schema/names";
import type {
	AccessChange,
	ClientDocument,
	ClientRead,
	ImportMetadataInput,
	ImportVersionInput,
	PackageMetadataContract,
	PackageUpdate,
	Person,
	PublishInput,
	Readable,
	TarballLocation,
	UpstreamNote,
	VersionRef,
} from "../../schema/package/contract";
import { packageMetadataMigrations } from "../../schema/package/migrations";
import { packageMirrorPart } from "../../schema/package/mirror-schema";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import { packageMetadataSchema } from "../../schema/package/squashed-schema";
import { refusals } from "../../schema/refusals";
import { RECENT_DOWNLOAD_DAYS } from "../../schema/search/contract";
import type { StagedVersion } from "../../schema/trust/contract";
import { upstreamMayServe } from "../../schema/upstream";
import { queryAudit, recordAudit } from "../audit";
import { Schema } from "../migrations";
import { transact } from "../transaction";
import { BackupSide } from "./backup-side";
import * as channelChanges from "./channel-changes";
import { type PackumentForm, packumentFrame } from "./documents";
import { importMetadata, importVersion } from "./import";
import { PackageAlarm } from "./package-alarm";
import { revision } from "./package-record";
import { type Change, type PackageRows, packageRows, type Skip, type Written } from "./package-rows";
import { asPeople, versionDocument } from "./packument";
import { pageOf } from "./page";
import { searchDocumentOf } from "./search-document";
import { StagedSide } from "./staged-side";
import { UpstreamMirror } from "./upstream";
import * as versionChanges from "./version-changes";
import { resolveVersionSpec, versionSpecTooComplex } from "./version-spec";
import { historyEntries, refName, versionView } from "./views";

// One object per package name (idFromName(name)): the single writer of that package. Every rule
// about the package (a version exists once, a tag points at a real version, a channel's history
// is a chain) is checked here. Each public method is the contract (schema/package/contract.ts):
// a read goes through `read`, a change through `write`, which runs it as one SQLite transaction,
// records it in the audit trail, bumps the revision, stores the packuments' new pieces and wakes the
// alarm (download counts, the search index). The changes themselves are in version-changes.ts and
// channel-changes.ts, the alarm's jobs in package-alarm.ts, the views in views.ts. A name that is
// not this registry's (none published or claimed here, outside the owned scopes) is served from the
// upstream's copy, which the object keeps (upstream.ts); local and upstream never mix in one answer.

export class PackageMetadataDO extends DurableObject<Env> implements PackageMetadataContract {
	private readonly sql: SqlStorage;
	private readonly rows: PackageRows;
	private readonly upstream: UpstreamMirror;
	private readonly jobs: PackageAlarm;
	private readonly backup: BackupSide;
	private readonly staged: StagedSide;
	private readonly schema: Schema;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		this.rows = packageRows(this.sql, env);
		this.upstream = new UpstreamMirror(this.sql, env, {
			schemaReady: () => this.schema.partReady,
			ownsName: (name) => this.ownsName(name),
			ensureSchema: () => this.schema.ensurePart(),
			transaction: (body) => ctx.storage.transactionSync(body),
			wake: (at) => this.jobs.schedule(at),
			waitUntil: (promise) => ctx.waitUntil(promise),
		});
		this.jobs = new PackageAlarm(ctx.storage, env, this.rows, {
			schemaReady: () => this.schema.ready,
			upstream: this.upstream,
			write: (actor, change) => this.write(actor, {}, change),
			searchDocument: (pkg) => this.buildSearchDocument(pkg),
		});
		this.backup = new BackupSide(ctx.storage, env, this.rows, {
			schemaReady: () => this.schema.ready,
			ensureSchema: () => this.schema.ensure(),
			wake: (at) => this.jobs.schedule(at),
		});
		this.staged = new StagedSide(ctx.storage, this.rows, {
			schemaReady: () => this.schema.ready,
			ensureSchema: () => this.schema.ensure(),
			wake: (at) => this.jobs.schedule(at),
			publish: (input) => this.publish(input),
		});
		// A name only ever read has no storage; one only served from upstream, its copies' tables only.
		this.schema = new Schema(ctx.storage, packageMetadataMigrations, packageMetadataSchema, packageMirrorPart);
		if (this.schema.partReady) ctx.blockConcurrencyWhile(() => this.jobs.start(this.schema.ready));
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
		const pkg = this.schema.ready ? this.rows.record.live() : null;
		return pkg ? revision(pkg) : null;
	}

	packument(form: PackumentForm, ifNoneMatch: string | null, mayReadRestricted = true, client?: ClientRead) {
		return this.read(
			(pkg) => ok(this.rows.documents.served(pkg, form, ifNoneMatch, packumentFrame(this.sql), client)),
			mayReadRestricted,
		);
	}

	versionDocument(spec: string, mayReadRestricted = true) {
		return this.read((pkg) => {
			const resolved = resolveVersionSpec(spec, {
				has: (version) => this.rows.versions.get(version) !== null,
				tagged: (tag) => this.rows.channels.get(tag)?.version ?? null,
				numbers: () => this.rows.versions.numbers(),
			});
			if (!resolved.ok) return resolved;
			const row = this.rows.versions.get(resolved.value) as VersionRow;
			const body = JSON.stringify(versionDocument(pkg, row, asPeople(this.rows.versions.maintainers())));
			return ok({ body, placeholder: pkg.base_placeholder });
		}, mayReadRestricted);
	}

	tarball(version: string, options: { count: boolean; mayReadRestricted: boolean }): Result<Readable<TarballLocation>> {
		// A name with no package here may have upstream tarballs stored (never counted as downloads).
		const stored = this.upstreamCopies() !== null ? this.upstream.storedTarball(version) : null;
		if (stored) return ok({ ...stored, access: "public" as const, rev: this.upstream.copiesRevision() });
		return this.read((pkg) => {
			const row = this.rows.versions.get(version);
			if (!row) return refusals.versionNotFound(version);
			if (options.count && (pkg.access === "public" || options.mayReadRestricted)) {
				this.rows.downloads.count(version);
				this.jobs.scheduleDownloadFlush();
			}
			return ok({ key: row.tarball_key, size: row.tarball_size, integrity: row.integrity });
		});
	}

	countDownloads(counts: Record<string, number>): void {
		if (!this.schema.ready) return;
		for (const [version, count] of Object.entries(counts)) {
			if (this.rows.versions.get(version)) this.rows.downloads.count(version, count);
		}
		this.jobs.scheduleDownloadFlush();
	}

	file(version: string, path: string) {
		return this.read(() => {
			const row = this.rows.versions.get(version);
			const file = row ? this.rows.versions.file(version, path) : null;
			if (!row || !file) return refusals.fileNotFound();
			return ok({ key: row.files_key, file });
		});
	}

	/** A version's files for the page's file browser (#24.9): the first `limit` paths, and how many there are. */
	fileList(version: string, limit: number) {
		return this.read(() => {
			const row = this.rows.versions.get(version);
			if (!row) return refusals.versionNotFound(version);
			return ok({ version: row.version, total: row.file_count, files: this.rows.versions.fileList(version, limit) });
		});
	}

	downloadCounts(start: string, end: string) {
		return this.read(() =>
			ok({ perDay: this.rows.downloads.perDay(start, end), perVersion: this.rows.downloads.perVersion(start, end) }),
		);
	}

	maintainers() {
		return this.read((pkg) => ok({ maintainers: this.rows.versions.maintainers(), rev: revision(pkg) }));
	}

	distTags() {
		return this.read(() => ok({ tags: this.rows.channels.distTags() }));
	}

	channels() {
		return this.read((pkg) =>
			ok({
				packageId: pkg.package_id,
				channels: this.rows.channels.list().map((state) => channelChanges.readChannelView(this.rows, pkg, state)),
			}),
		);
	}

	channel(channel: string) {
		return this.read((pkg) => {
			const state = this.rows.channels.get(channel);
			return state ? ok(channelChanges.readChannelView(this.rows, pkg, state)) : refusals.channelNotFound(channel);
		});
	}

	channelHistory(channel: string) {
		return this.read(() => {
			const rows = this.rows.channels.history(channel);
			if (!rows) return refusals.channelNotFound(channel);
			const ids = new Map(this.rows.versions.all().map((v) => [v.version, v.version_id]));
			return ok({ entries: historyEntries(rows, ids) });
		});
	}

	versions() {
		return this.read((pkg) =>
			ok({ packageId: pkg.package_id, versions: this.rows.versions.all().map((row) => versionView(pkg, row)) }),
		);
	}

	version(ref: VersionRef) {
		return this.read((pkg) => {
			const row = versionChanges.versionByRef(this.rows, ref);
			return row ? ok(versionView(pkg, row)) : refusals.versionNotFound(refName(ref));
		});
	}

	page(spec: string | null, mayReadRestricted = true) {
		return this.read((pkg) => pageOf(this.rows, pkg, spec), mayReadRestricted);
	}

	/** The audit trail outlives a full unpublish, so it reads the package row whatever its state. */
	auditLog(filter: AuditFilter) {
		const pkg = this.schema.ready ? this.rows.record.get() : null;
		// A claimed name has a trail (the claim) before anything is published under it.
		const claim = this.schema.ready ? this.rows.claims.get() : null;
		// An upstream package's trail: what upstream changed (#22.10).
		if (!pkg && !claim && this.upstreamPackage() === null) return refusals.packageNotFound();
		const live = pkg?.unpublished_at === null;
		const access = pkg?.access ?? "restricted";
		return ok({ entries: queryAudit(this.sql, filter), live, access, rev: pkg ? revision(pkg) : "0-claimed" });
	}

	/** Not a `read`: the document carries its own `rev` (a number), which the index orders by. */
	searchDocument() {
		const pkg = this.schema.ready ? this.rows.record.live() : null;
		const doc = pkg ? this.buildSearchDocument(pkg) : null;
		return doc ? ok(doc) : refusals.packageNotFound();
	}

	blobKeys(): string[] {
		if (!this.schema.ready) return [];
		return [
			...this.rows.versions.all().flatMap((row) => [row.tarball_key, row.files_key]),
			...this.rows.staged.blobKeys(),
		];
	}

	firstFreeVersion(candidates: string[]): string | null {
		if (!this.schema.ready) return candidates[0] ?? null;
		return candidates.find((v) => !this.rows.versions.isTaken(v)) ?? null;
	}

	// ── the name as clients see it: this registry's package, or the upstream's ─────────────────

	/** `client` (a client's read, not a page's): a local packument too long to join comes as `stream` (contract.ts). */
	async servedPackument(
		name: string,
		form: PackumentForm,
		ifNoneMatch: string | null,
		mayReadRestricted = true,
		client?: ClientRead,
	): Promise<Result<Readable<ClientDocument>>> {
		if (!this.ownsName(name)) return this.upstream.packument(name, form, ifNoneMatch, client);
		const local = this.packument(form, ifNoneMatch, mayReadRestricted, client);
		return local.ok ? ok({ ...local.value, upstream: null }) : local;
	}

	async servedVersionDocument(
		name: string,
		spec: string,
		mayReadRestricted = true,
	): Promise<Result<Readable<{ body: string; placeholder: string; upstream: UpstreamNote | null }>>> {
		if (!this.ownsName(name)) {
			// Checked before upstream is asked: a range is matched against every version.
			const tooComplex = versionSpecTooComplex(spec);
			if (tooComplex) return tooComplex;
			return this.upstream.versionDocument(name, spec);
		}
		const local = this.versionDocument(spec, mayReadRestricted);
		return local.ok ? ok({ ...local.value, upstream: null }) : local;
	}

	async tarballOrUpstream(name: string, version: string, options: Parameters<PackageMetadataDO["tarball"]>[1]) {
		const held = this.tarball(version, options);
		if (held.ok || this.ownsName(name)) return { from: "held" as const, held };
		return { from: "upstream" as const, upstream: await this.upstream.tarball(name, version) };
	}

	async storedUpstreamTarball(name: string, version: string) {
		return this.ownsName(name) ? null : this.upstream.settledTarball(version);
	}

	async admitNewPackage(name: string): Promise<Result<{ admitted: true }>> {
		if (this.ownsName(name)) return ok({ admitted: true });
		return this.upstream.admit(name);
	}

	claim(name: string, actor: Actor) {
		this.schema.ensure();
		const result = transact(this.ctx.storage, () => {
			const pkg = this.rows.record.get();
			const existing = this.rows.claims.get();
			if (existing || pkg) {
				return ok({
					name,
					claimedAt: existing?.claimed_at ?? pkg?.created_at ?? "",
					claimedBy: existing?.claimed_by ?? "published here",
					created: false,
					removedKeys: [] as string[],
				});
			}
			const row = this.rows.claims.insert(name, new Date().toISOString(), actor.label);
			const removedKeys = this.upstream.forget();
			recordAudit(this.sql, actor, "claim", name, { upstreamTarballsDropped: removedKeys.length });
			return ok({ name, claimedAt: row.claimed_at, claimedBy: row.claimed_by, created: true, removedKeys });
		});
		this.jobs.schedule(Date.now());
		return result;
	}

	// ── writes: each a change of version-changes.ts or channel-changes.ts, through `write` ──────

	publish(input: PublishInput) {
		return this.write(input.actor, { creates: { name: input.name, access: input.access } }, (pkg, now) =>
			versionChanges.publish(this.rows, pkg, now, input),
		);
	}

	/** A version copied from another registry (import.ts): its own time and deprecation, no channel moved. */
	importVersion(input: ImportVersionInput) {
		return this.write(input.actor, { creates: { name: input.name, access: input.access } }, (pkg) =>
			importVersion({ sql: this.sql, ...this.rows }, input, pkg),
		);
	}

	/** An imported package's dist-tags (channel moves), times, maintainers and unpublished numbers (import.ts). */
	importMetadata(input: ImportMetadataInput) {
		return this.write(input.actor, {}, (pkg, now) => importMetadata({ sql: this.sql, ...this.rows }, input, pkg, now));
	}

	update(input: PackageUpdate) {
		return this.write(input.actor, {}, (pkg, now) => versionChanges.update(this.rows, pkg, now, input));
	}

	unpublishPackage(rev: string, force: boolean, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => versionChanges.unpublishPackage(this.rows, pkg, now, rev, force, actor));
	}

	removeTarball(version: string, rev: string, force: boolean, actor: Actor) {
		return this.write(actor, {}, (pkg, now) =>
			versionChanges.removeTarball(this.rows, pkg, now, version, rev, force, actor),
		);
	}

	deleteVersion(ref: VersionRef, force: boolean, actor: Actor) {
		return this.write(actor, {}, (_pkg, now) => versionChanges.deleteVersion(this.rows, now, ref, force, actor));
	}

	moveChannel(channel: string, ref: VersionRef, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => channelChanges.moveChannel(this.rows, pkg, now, channel, ref, actor));
	}

	rollbackChannel(channel: string, to: number | undefined, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => channelChanges.rollbackChannel(this.rows, pkg, channel, to, now, actor));
	}

	promoteChannel(to: string, from: string, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => channelChanges.promoteChannel(this.rows, pkg, now, to, from, actor));
	}

	removeChannel(channel: string, actor: Actor) {
		return this.write(actor, {}, () => channelChanges.removeChannel(this.rows, channel));
	}

	startRollout(channel: string, ref: VersionRef, percent: number, actor: Actor) {
		return this.write(actor, {}, (pkg, now) =>
			channelChanges.startRollout(this.rows, pkg, now, channel, ref, percent, actor),
		);
	}

	changeRollout(channel: string, percent: number, actor: Actor) {
		return this.write(actor, {}, (pkg, now) =>
			channelChanges.changeRollout(this.rows, pkg, now, channel, percent, actor),
		);
	}

	completeRollout(channel: string, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => channelChanges.completeRollout(this.rows, pkg, now, channel, actor));
	}

	revertRollout(channel: string, actor: Actor) {
		return this.write(actor, {}, (pkg, now) => channelChanges.revertRollout(this.rows, pkg, now, channel, actor));
	}

	/** npm access set status=… / mfa=…: who may read the package, and whether writes need TOTP. */
	setAccess(change: AccessChange, actor: Actor) {
		return this.write(actor, {}, (pkg) => {
			if (change.access !== undefined) this.rows.record.setAccess(change.access);
			if (change.requireTwoFactor !== undefined) this.rows.record.setRequireTwoFactor(change.requireTwoFactor);
			return ok({ value: { access: change.access ?? pkg.access }, action: "access", target: null, detail: change });
		});
	}

	/** npm owner add/rm: the maintainers shown in the packument (grants live in the AuthStoreDO). */
	setMaintainers(maintainers: Person[], actor: Actor) {
		return this.write(actor, {}, () => {
			const before = this.rows.versions.maintainers().map((m) => m.name);
			this.rows.versions.replaceMaintainers(maintainers);
			const after = maintainers.map((m) => m.name);
			return ok({
				value: {},
				action: "owner.change",
				target: null,
				detail: { added: after.filter((n) => !before.includes(n)), removed: before.filter((n) => !after.includes(n)) },
			});
		});
	}

	// ── staged versions (npm stage: staged-side.ts) ─────────────────────────────────────────────

	stage(item: StagedVersion, input: PublishInput) {
		return this.staged.stage(item, input);
	}

	stagedVersion(id: string) {
		return this.staged.get(id);
	}

	stagedVersions() {
		return this.staged.list();
	}

	approveStaged(id: string, actor: Actor) {
		return this.staged.approve(id, actor);
	}

	rejectStaged(id: string, actor: Actor) {
		return this.staged.reject(id, actor);
	}

	// ── export and restore (backup-side.ts) ─────────────────────────────────────────────────────

	exportHead() {
		return this.backup.head();
	}

	exportRows(rev: string, cursor: DumpCursor) {
		return this.backup.page(rev, cursor);
	}

	removedVersions() {
		return this.backup.removedVersions();
	}

	beginRestore(head: PackageHead) {
		return this.backup.begin(head);
	}

	restoreRows(item: ExportedRows) {
		return this.backup.restore(item);
	}

	// ── background work: one alarm runs every deferred job (package-alarm.ts) ───────────────────

	override async alarm(): Promise<void> {
		await this.jobs.run();
	}

	// ── the read and write paths ───────────────────────────────────────────────────────────────

	/**
	 * A read of the live package; its refusals carry the access, so only readers see them. A caller
	 * who may not read it restricted is refused a restricted one as a missing one, unbuilt (#22.9).
	 */
	private read<T extends object>(body: (pkg: PackageRow) => Result<T>, mayReadRestricted = true): Result<Readable<T>> {
		const pkg = this.schema.ready ? this.rows.record.live() : null;
		if (!pkg || (!mayReadRestricted && pkg.access !== "public")) return refusals.packageNotFound();
		const result = body(pkg);
		return result.ok
			? ok({ ...result.value, access: pkg.access, rev: revision(pkg) })
			: { ...result, access: pkg.access };
	}

	/**
	 * A change, as one transaction: the live package (or, for `creates`, the one a publish claims),
	 * the change itself, then the commit (audit row, new revision, the packuments' new pieces). A refusal
	 * rolls back everything; a committed change wakes the alarm, which tells the search index. A
	 * change that finds nothing to do answers `skip` and commits nothing.
	 */
	private write<T>(
		actor: Actor,
		options: { creates?: { name: string; access: PackageRow["access"] } },
		change: (pkg: PackageRow, now: string) => Result<Change<T> | Skip<T>>,
	): Result<Written<T>> {
		if (!options.creates && !this.schema.ready) return this.notHere();
		this.schema.ensure();
		const result = transact(this.ctx.storage, (): Result<Written<T>> => {
			const now = new Date().toISOString();
			if (options.creates && !this.ownsName(options.creates.name)) {
				// The Worker asked admitNewPackage first; this holds even if upstream answered since.
				if (this.upstream.hasCopy()) return refusals.upstreamName(options.creates.name);
				this.upstream.forget();
			}
			const pkg = options.creates
				? this.rows.record.claim(options.creates.name, options.creates.access, now)
				: this.rows.record.live();
			if (!pkg) return this.notHere();
			const changed = change(pkg, now);
			if (!changed.ok) return changed;
			if ("skip" in changed.value) return ok({ ...changed.value.value, rev: revision(pkg) });
			const { value, action, target, detail, modifiedAt } = changed.value;
			recordAudit(this.sql, actor, action, target, detail ?? null);
			const committed = this.rows.record.bumpRevision(modifiedAt ?? now);
			// Package hooks' events, written with the change they report (DESIGN invariant 12).
			this.rows.hooks.record(
				{ action, target, detail: detail ?? null },
				{
					name: committed.name,
					distTags: this.rows.channels.distTags(),
					modified: committed.modified_at,
					now: Date.now(),
				},
			);
			this.rows.documents.store(committed);
			return ok({ ...value, rev: revision(committed) });
		});
		if (result.ok) this.jobs.schedule(Date.now());
		return result;
	}

	/**
	 * Whether the name is this registry's: a package was published here (even if it was since
	 * unpublished), an admin claimed it, or it may not come from upstream at all (no upstream is
	 * configured, or its scope is owned). Only other names are ever asked upstream.
	 */
	private ownsName(name: string): boolean {
		if (!upstreamMayServe(config(this.env), splitName(name).scope)) return true;
		return this.schema.ready && (this.rows.record.get() !== null || this.rows.claims.get() !== null);
	}

	/**
	 * The name this object keeps upstream copies for, while they are what it serves: the name is
	 * not (or no longer) this registry's. Null otherwise, including after OWNED_SCOPES or
	 * UPSTREAM_URL changed so that it is.
	 */
	private upstreamCopies(): string | null {
		const name = this.schema.partReady ? this.upstream.copyName() : null;
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

	/** Read after every write (the alarm tells the index): reads no version but the latest. */
	private buildSearchDocument(pkg: PackageRow) {
		const { versions, channels, downloads } = this.rows;
		const latest = versions.get(channels.get("latest")?.version ?? "") ?? versions.lastPublished();
		return searchDocumentOf(
			pkg,
			{ latest, ...versions.summary() },
			versions.maintainers(),
			downloads.weeklyTotal(),
			downloads.lastDays(RECENT_DOWNLOAD_DAYS),
		);
	}
}
