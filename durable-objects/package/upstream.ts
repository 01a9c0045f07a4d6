import { config } from "../../schema/config";
import { ok, type Refusal, type Result } from "../../schema/errors";
import { etagMatches } from "../../schema/etag";
import { randomHex, sha256Hex } from "../../schema/hashing";
import type {
	ClientDocument,
	ClientRead,
	Readable,
	TarballLocation,
	UpstreamNote,
	UpstreamTarball,
} from "../../schema/package/contract";
import type { UpstreamDocumentRow, UpstreamVersionRow } from "../../schema/package/rows";
import { refusals } from "../../schema/refusals";
import { checkedIntegrity, expectedDigest, type UpstreamActivity, upstreamOfUrl } from "../../schema/upstream";
import { KEEP_JOINED_CHARS, withoutStream } from "./documents";
import { UpstreamActivityLog } from "./upstream-activity";
import { recordUpstreamChanges } from "./upstream-changes";
import { fetchUpstreamDocument, fetchUpstreamTarball } from "./upstream-client";
import { dateOf, type FoundDocument, staleWarning, UpstreamDocuments, type UpstreamForm } from "./upstream-documents";
import { holdForAnswer, integrityCheck, verifiedCopy } from "./upstream-integrity";
import { contentLength, originOf, settledWithin, storeCheckedBytes } from "./upstream-io";
import { type ChangedVersion, rewriteUpstreamPackument, type UpstreamVersion } from "./upstream-packument";
import { UpstreamTarballs } from "./upstream-tarballs";
import { type AnswerEarly, UnstoredCopies, type UnstoredCopy, unstoredCopy } from "./upstream-unstored";
import { resolveVersionSpec } from "./version-spec";

// The upstream registry's side of a package object whose name is not this registry's. The object
// is the one place per name, so it is where "once" holds: one refresh of the name's documents at a
// time (every request that needs one waits for the same), one fetch of each tarball however many ask.
//
// Documents: fresh for UPSTREAM_MAX_AGE_SECONDS; then served stale while one refresh runs in the
// background (revalidated with If-None-Match); when refreshes fail, served stale with a Warning
// until UPSTREAM_STALE_IF_ERROR_SECONDS past their max age, after which a request waits for
// upstream. "No upstream has it" is believed for UPSTREAM_NOT_FOUND_SECONDS.
//
// Tarballs: fetched on first request from the URL upstream's document named (only on a configured
// upstream's origin), checked against their digest before that request is answered (a small one
// from memory while R2 stores it, the others once stored); a mismatch stores nothing and is a 502
// (see upstream-integrity.ts). Stored ones are never fetched again.

/** What the mirror needs of the object it lives in. */
export type MirrorHost = {
	/** Whether the object has storage yet: a name that was only ever asked about has none. */
	schemaReady(): boolean;
	/** Whether the name is this registry's: published or claimed here, or in an owned scope. */
	ownsName(name: string): boolean;
	/** Creates the object's storage before the first thing is stored. */
	ensureSchema(): void;
	transaction<T>(body: () => T): T;
	/** Runs the alarm (which sends the activity figures) by then at the latest. */
	wake(at: number): void;
	/** Keeps the object working on something no request waits for. */
	waitUntil(promise: Promise<unknown>): void;
};

/** After a failed refresh, a stale copy is served without asking upstream again for this long. */
const RETRY_AFTER_FAILURE_MS = 5_000;
/** A version missing from a copy at least this old sends a request to upstream: it may be new. */
const MISSING_VERSION_REFRESH_MS = 5_000;
/**
 * The figures are sent this long after the first count (at least DOWNLOAD_FLUSH_SECONDS): an
 * install through the proxy touches hundreds of objects at once, and their alarms, each a call to
 * the one AuthStoreDO, would otherwise all run in the middle of it (#25). Well within the time an
 * idle object is kept in memory, so figures are not lost to eviction any more often.
 */
const FIGURES_FLUSH_MS = 30_000;

/** How long a refresh waits for clients still reading the copy it replaces (upstream-documents.ts). */
const STREAM_WAIT_MS = 30_000;

/** `unstored`: the body of a document answered before it is stored (upstream-unstored.ts). */
type Found = { row: UpstreamDocumentRow; note: UpstreamNote; unstored?: string };

export class UpstreamMirror {
	private readonly documents: UpstreamDocuments;
	private readonly tarballs: UpstreamTarballs;
	private readonly activity = new UpstreamActivityLog();
	/** Document refreshes in flight or queued, one per form. */
	private readonly refreshes = new Map<UpstreamForm, Promise<Result<null>>>();
	private readonly unstored = new UnstoredCopies();
	/** The last refresh begun: the next one starts after it. */
	private lastRefresh: Promise<unknown> = Promise.resolve();
	/** Tarball fetches in flight, by version: they settle once the bytes are stored (or not). */
	private readonly fetches = new Map<string, Promise<Result<TarballLocation>>>();
	/**
	 * Upstream's 404 for a name this object has no storage for, kept in memory only: a read of a
	 * made-up name must not create a database (the 404 of a name with storage is a row).
	 */
	private absent: { upstream: string; at: number } | null = null;

	constructor(
		private readonly sql: SqlStorage,
		private readonly env: Env,
		private readonly host: MirrorHost,
	) {
		this.documents = new UpstreamDocuments(sql, host.schemaReady);
		this.tarballs = new UpstreamTarballs(sql, host.schemaReady);
	}

	// ── documents ──────────────────────────────────────────────────────────────────────────────

	/**
	 * With `client` (a client's read), a stored copy larger than a joined local packument may be
	 * (documents.ts) comes as `stream`: neither this object nor the Worker holds its whole text, and
	 * the read tier, which keeps nothing that large, passes it on (#25).
	 */
	async packument(
		name: string,
		form: UpstreamForm,
		ifNoneMatch: string | null,
		client?: ClientRead,
	): Promise<Result<Readable<ClientDocument>>> {
		const found = await this.document(name, form, true, true);
		if (!found.ok) return heardByAnyone(found);
		const { row, note, unstored } = found.value;
		const served = {
			etag: row.etag,
			modified: row.modified,
			placeholder: row.placeholder,
			upstream: note,
			access: "public" as const,
			rev: this.copiesRevision(),
		};
		if (etagMatches(ifNoneMatch, row.etag)) return ok({ ...served, body: null });
		if (client && unstored === undefined && row.size > KEEP_JOINED_CHARS) {
			return ok(
				withoutStream(served, client) ?? {
					...served,
					body: null,
					stream: this.documents.stream(form, row, client.base),
				},
			);
		}
		return ok({ ...served, body: unstored ?? this.documents.body(form) });
	}

	/** One version (by number, tag or range, as the npm registry resolves them) of the full document. */
	async versionDocument(
		name: string,
		spec: string,
	): Promise<Result<Readable<{ body: string; placeholder: string; upstream: UpstreamNote }>>> {
		const found = await this.document(name, "full", true);
		if (!found.ok) return heardByAnyone(found);
		const { row, note } = found.value;
		const doc = JSON.parse(this.documents.body("full")) as {
			versions?: Record<string, unknown>;
			"dist-tags"?: Record<string, unknown>;
		};
		const versions = doc.versions ?? {};
		const tags = doc["dist-tags"] ?? {};
		// Own keys only: a spec such as "constructor" names nothing.
		const resolved = resolveVersionSpec(spec, {
			has: (version) => Object.hasOwn(versions, version),
			tagged: (tag) => (Object.hasOwn(tags, tag) && typeof tags[tag] === "string" ? tags[tag] : null),
			numbers: () => Object.keys(versions),
		});
		if (!resolved.ok) return heardByAnyone(resolved);
		return ok({
			body: JSON.stringify(versions[resolved.value]),
			placeholder: row.placeholder,
			upstream: note,
			access: "public",
			rev: this.copiesRevision(),
		});
	}

	/**
	 * For the read tier: what the copies are now, while they may be served without asking upstream
	 * (null once they are too old for that, so the object is asked and decides). A copy past its max
	 * age gets its background refresh here too, as a read of it would.
	 */
	revision(name: string): string | null {
		const { upstreamMaxAgeMs, upstreamStaleIfErrorMs } = config(this.env);
		const now = Date.now();
		const copies = this.copies();
		if (copies.length === 0) return null;
		for (const row of copies) {
			if (now - row.fetched_at >= upstreamMaxAgeMs + upstreamStaleIfErrorMs) return null;
			if (now - row.fetched_at >= upstreamMaxAgeMs) this.refreshInBackground(name, row.form, row, now);
		}
		return this.copiesRevision();
	}

	/**
	 * Changes whenever an answer built from the copies would: a document changed, or a refresh
	 * failed or succeeded again (which adds or drops the Warning of a stale copy).
	 */
	copiesRevision(): string {
		return `upstream-${this.copies()
			.map((row) => `${row.etag.replaceAll('"', "")}${row.failed_at === null ? "" : "!"}`)
			.join("-")}`;
	}

	private copies(): UpstreamDocumentRow[] {
		// A copy answered but not stored yet is what the stored one is about to be.
		const get = (form: UpstreamForm) => this.unstored.row(form) ?? this.documents.get(form);
		return [get("abbreviated"), get("full")].filter((row): row is UpstreamDocumentRow => row?.status === 200);
	}

	/** Whether upstream is known to have the name (so no write may create or change it here). */
	hasCopy(): boolean {
		return this.documents.hasCopy();
	}

	/** The name the copies are for, when there are any. */
	copyName(): string | null {
		return this.documents.name();
	}

	/**
	 * The form's copy, fresh or stale, or upstream's answer now (a miss); `early`: a miss may be
	 * answered with a document not stored yet (`unstored`, the body the caller serves). */
	private async document(name: string, form: UpstreamForm, count: boolean, early = false): Promise<Result<Found>> {
		await this.unstored.settled();
		const { upstreamMaxAgeMs, upstreamStaleIfErrorMs, upstreamNotFoundMs } = config(this.env);
		const now = Date.now();
		const row = this.documents.get(form);
		if (row?.status === 200 && now - row.fetched_at < upstreamMaxAgeMs + upstreamStaleIfErrorMs) {
			const fresh = now - row.fetched_at < upstreamMaxAgeMs;
			if (!fresh) this.refreshInBackground(name, form, row, now);
			if (count) this.count(row.upstream, "documentHits");
			this.wake();
			return ok({ row, note: { outcome: fresh ? "hit" : "stale", warning: fresh ? null : staleWarning(row) } });
		}
		// A 404 kept in memory is not counted in the figures: sending them needs the alarm, and an
		// alarm is storage, which a made-up name must not get.
		const absent = this.absentSince(row);
		if (absent && now - absent.at < upstreamNotFoundMs) {
			if (count && row) this.count(absent.upstream, "documentHits");
			this.wake();
			return refusals.packageNotFound();
		}
		const refreshed = early ? await this.refreshEarly(name, form) : await this.refresh(name, form);
		if (!refreshed.ok) return refreshed;
		const unstored = refreshed.value;
		const next = unstored?.row ?? this.documents.get(form);
		if (count && next) this.count(next.upstream, "documentMisses");
		// An unstored copy's alarm (which sends the figures) is set once it is stored.
		if (!unstored) this.wake();
		if (next?.status !== 200) return refusals.packageNotFound();
		return ok({
			row: next,
			note: { outcome: "miss", warning: null },
			...(unstored ? { unstored: unstored.body } : {}),
		});
	}

	/** When upstream last said it has no such name (a stored 404, or one kept in memory), if it did. */
	private absentSince(row: UpstreamDocumentRow | null): { upstream: string; at: number } | null {
		if (row) return row.status === 404 ? { upstream: row.upstream, at: row.fetched_at } : null;
		return this.absent;
	}

	private refreshInBackground(name: string, form: UpstreamForm, row: UpstreamDocumentRow, now: number): void {
		if (this.refreshes.has(form)) return;
		if (row.failed_at !== null && now - row.failed_at < RETRY_AFTER_FAILURE_MS) return;
		this.host.waitUntil(this.refresh(name, form));
	}

	/**
	 * Asks upstream for the form, once: requests that need it while it runs wait for the same answer.
	 * One refresh per name at a time: a refresh of the other form waits for this one to end.
	 */
	private refresh(name: string, form: UpstreamForm, answerEarly?: AnswerEarly): Promise<Result<null>> {
		let pending = this.refreshes.get(form);
		if (!pending) {
			pending = this.lastRefresh
				.then(() => this.fetchDocument(name, form, answerEarly))
				.finally(() => this.refreshes.delete(form));
			this.lastRefresh = pending.catch(() => null);
			this.refreshes.set(form, pending);
		}
		return pending;
	}

	/**
	 * `refresh`, answered with upstream's document before it is stored when this request began the
	 * refresh; requests that join it wait until it is stored, as does the next refresh.
	 */
	private refreshEarly(name: string, form: UpstreamForm): Promise<Result<UnstoredCopy | null>> {
		return new Promise((resolve, reject) => {
			this.refresh(name, form, (copy) => resolve(ok(copy))).then(resolve, reject);
		});
	}

	private async fetchDocument(name: string, form: UpstreamForm, answerEarly?: AnswerEarly): Promise<Result<null>> {
		const current = this.documents.get(form);
		const conditional =
			current?.status === 200 && current.upstream_etag !== null
				? { upstream: current.upstream, etag: current.upstream_etag }
				: null;
		const answer = await fetchUpstreamDocument(config(this.env), name, form, conditional);
		let rewritten: { body: string; etag: string; modified: string; versions: UpstreamVersion[] } | null = null;
		let changed: ChangedVersion[] = [];
		const placeholder = current?.placeholder || `registry-base-${randomHex(16)}`;
		let failure = answer.ok ? null : answer.refusal;
		if (answer.ok && answer.value.kind === "found") {
			const result = rewriteUpstreamPackument(name, answer.value.text, placeholder, this.documents.pinnedVersions());
			if (result.ok) {
				const { body, versions, modified } = result.value;
				changed = result.value.changed;
				rewritten = {
					body,
					etag: `"u${(await sha256Hex(body)).slice(0, 32)}-${form === "full" ? "f" : "a"}"`,
					modified: dateOf(answer.value.lastModified) ?? dateOf(modified) ?? new Date().toISOString(),
					versions,
				};
			} else {
				failure = refusals.upstreamFailed(`packument of ${name} from ${answer.value.upstream.url}`, result.reason);
			}
		}
		// The name became this registry's while upstream was asked: nothing of upstream's is kept.
		if (this.host.ownsName(name)) return refusals.packageNotFound();
		const now = Date.now();
		if (!answer.ok || failure) {
			const upstream = answer.ok ? answer.value.upstream.url : answer.upstream.url;
			const message = failure?.message ?? "upstream failed";
			this.failed(upstream, message, name);
			if (this.documents.get(form)) this.documents.failed(form, now, message);
			return failure ?? refusals.upstreamFailed(`packument of ${name}`, message);
		}
		const { value } = answer;
		if (value.kind === "notFound" && !this.host.schemaReady()) {
			this.absent = { upstream: value.upstream.url, at: now };
			return ok(null);
		}
		this.absent = null;
		if (value.kind === "notModified") {
			this.host.ensureSchema();
			this.documents.confirm(form, now);
			return ok(null);
		}
		const found: FoundDocument | null =
			value.kind === "found" && rewritten
				? {
						...rewritten,
						name,
						upstream: value.upstream.url,
						upstreamEtag: value.etag,
						size: new TextEncoder().encode(rewritten.body).byteLength,
					}
				: null;
		const store = (): Result<null> => {
			// The name became this registry's meanwhile: nothing of upstream's is kept.
			if (this.host.ownsName(name)) return refusals.packageNotFound();
			this.host.ensureSchema();
			this.host.transaction(() => {
				if (found) this.documents.storeFound(form, found, placeholder, now);
				else this.documents.storeNotFound(form, name, value.upstream.url, now);
				recordUpstreamChanges(this.sql, name, value.upstream.url, changed);
			});
			if (current) this.uncount(current);
			if (found) {
				this.count(value.upstream.url, "documents");
				this.count(value.upstream.url, "documentBytes", found.size);
			}
			this.wake();
			return ok(null);
		};
		if (!found || !answerEarly) {
			// A copy replaced under a client reading it would mix two documents: its end is waited for.
			await this.documents.streamsEnded(form, STREAM_WAIT_MS);
			return store();
		}
		return this.unstored.answerThenStore(unstoredCopy(form, found, placeholder, now), answerEarly, store);
	}

	// ── tarballs ───────────────────────────────────────────────────────────────────────────────

	/** A stored copy's location (counted as a hit), or null. */
	storedTarball(version: string): TarballLocation | null {
		const row = this.tarballs.get(version);
		if (!row) return null;
		this.count(row.upstream, "tarballHits");
		this.wake();
		return { key: row.key, size: row.size, integrity: row.integrity, upstream: true };
	}

	async tarball(name: string, version: string): Promise<Result<UpstreamTarball>> {
		await this.unstored.settled();
		const stored = this.storedTarball(version);
		if (stored) return ok({ stored });
		if (!this.fetches.has(version) && !this.documents.version(version)) {
			const learnt = await this.learnVersion(name, version);
			if (!learnt.ok) return learnt;
		}
		// Another request may have stored it, or begun to fetch it, while this one waited.
		const storedMeanwhile = this.storedTarball(version);
		if (storedMeanwhile) return ok({ stored: storedMeanwhile });
		const fetching = this.fetches.get(version);
		if (fetching) {
			// The fetch fails by itself when upstream stalls; this bound holds whatever else hangs.
			const { upstreamTimeoutMs, upstreamDownloadMs } = config(this.env);
			const done = await settledWithin(fetching, upstreamTimeoutMs * 2 + upstreamDownloadMs, () =>
				refusals.upstreamSlow(`tarball of ${name}@${version}`, "the fetch this request waited for did not end"),
			);
			// It waited for upstream: a miss, though the fetch was another request's.
			const upstream = this.documents.version(version)?.upstream;
			if (upstream) this.count(upstream, "tarballMisses");
			this.wake();
			return done.ok ? ok({ stored: done.value }) : done;
		}
		const known = this.documents.version(version);
		return known ? this.fetchTarball(name, known) : refusals.versionNotFound(version);
	}

	/** Where the tarball lies once the fetch in flight (if any) settles; not counted, nobody asked for it. */
	async settledTarball(version: string): Promise<Readable<TarballLocation> | null> {
		const fetching = this.fetches.get(version);
		if (fetching) {
			const { upstreamTimeoutMs, upstreamDownloadMs } = config(this.env);
			await settledWithin(fetching, upstreamTimeoutMs * 2 + upstreamDownloadMs, () => null);
		}
		const row = this.tarballs.get(version);
		if (!row) return null;
		return {
			key: row.key,
			size: row.size,
			integrity: row.integrity,
			upstream: true,
			access: "public",
			rev: this.copiesRevision(),
		};
	}

	/** Finds out where upstream keeps a version's tarball: from the document, asked again if it may be new. */
	private async learnVersion(name: string, version: string): Promise<Result<null>> {
		const doc = await this.document(name, "abbreviated", false);
		if (!doc.ok) return doc;
		const { row, note } = doc.value;
		if (this.documents.version(version)) return ok(null);
		if (note.outcome === "miss" || Date.now() - row.fetched_at < MISSING_VERSION_REFRESH_MS) {
			return refusals.versionNotFound(version);
		}
		const refreshed = await this.refresh(name, "abbreviated");
		if (!refreshed.ok) return refreshed;
		return this.documents.version(version) ? ok(null) : refusals.versionNotFound(version);
	}

	/**
	 * Begins the one fetch of a tarball: the first request gets its bytes once checked (a small one
	 * at once, others once stored) or the refusal.
	 */
	private async fetchTarball(name: string, known: UpstreamVersionRow): Promise<Result<UpstreamTarball>> {
		const { version } = known;
		const what = `tarball of ${name}@${version}`;
		const cfg = config(this.env);
		const expected = expectedDigest(known);
		if (!expected) return refusals.upstreamFailed(what, "upstream publishes no integrity or shasum for it");
		const upstream = upstreamOfUrl(cfg, known.url);
		if (!upstream) {
			return refusals.upstreamFailed(what, `upstream names ${originOf(known.url)}, which is not a configured upstream`);
		}
		let settle: (result: Result<TarballLocation>) => void = () => {};
		const done = new Promise<Result<TarballLocation>>((resolve) => {
			settle = resolve;
		});
		this.fetches.set(version, done);
		void done.then(() => {
			if (this.fetches.get(version) === done) this.fetches.delete(version);
		});
		this.count(upstream.url, "tarballMisses");
		this.wake();
		const response = await fetchUpstreamTarball(cfg, upstream, known.url, what);
		if (!response.ok) {
			this.failed(upstream.url, response.refusal.message, name);
			settle(response.refusal);
			return response.refusal;
		}
		const integrity = checkedIntegrity(expected);
		const size = contentLength(response.value.headers);
		const check = integrityCheck(expected);
		// Its failure shows in the copies below (and is told apart by check.mismatched()).
		this.host.waitUntil(response.value.body.pipeTo(check.stream.writable).catch(() => {}));
		// No client gets a byte before all are checked (upstream-integrity.ts): a small one from memory
		// once its digest matched, the others from R2 once stored.
		const release = holdForAnswer(size);
		const [client, copy] = release ? check.stream.readable.tee() : [null, check.stream.readable];
		const key = `upstream/${name}/${version}/${crypto.randomUUID()}.tgz`;
		const storing = storeCheckedBytes(this.env.BLOBS, key, copy, size, integrity).then(
			(stored) => {
				if (this.host.ownsName(name)) {
					settle(refusals.packageNotFound());
					return this.env.BLOBS.delete(key);
				}
				this.host.ensureSchema();
				this.host.transaction(() =>
					this.tarballs.insert({
						version,
						upstream: upstream.url,
						key,
						size: stored,
						integrity,
						stored_at: new Date().toISOString(),
					}),
				);
				this.count(upstream.url, "tarballs");
				this.count(upstream.url, "tarballBytes", stored);
				this.wake();
				settle(ok({ key, size: stored, integrity, upstream: true }));
			},
			(error: unknown) => {
				const why = error instanceof Error ? error.message : String(error);
				const refusal = check.mismatched()
					? refusals.upstreamIntegrity(what)
					: error instanceof Error && error.name === "TimeoutError"
						? refusals.upstreamSlow(what, why)
						: refusals.upstreamFailed(what, why);
				this.failed(upstream.url, refusal.message, name);
				settle(refusal);
			},
		);
		this.host.waitUntil(storing);
		const bytes = client && release ? await verifiedCopy(client, release) : null;
		if (bytes) return ok({ verified: { bytes, integrity } });
		const verified = await done;
		return verified.ok ? ok({ stored: verified.value }) : verified;
	}

	// ── ownership ──────────────────────────────────────────────────────────────────────────────

	/**
	 * Whether a first publish may create the name: not while upstream has it, and not while
	 * upstream cannot be asked (unless ALLOW_PUBLISH_WHEN_UPSTREAM_DOWN).
	 */
	async admit(name: string): Promise<Result<{ admitted: true }>> {
		await this.unstored.settled();
		if (this.documents.hasCopy()) return refusals.upstreamName(name);
		const { upstreamNotFoundMs, publishWhenUpstreamDown } = config(this.env);
		const absent = this.absentSince(this.documents.get("abbreviated"));
		const knownAbsent = absent !== null && Date.now() - absent.at < upstreamNotFoundMs;
		const asked = knownAbsent ? ok(null) : await this.refresh(name, "abbreviated");
		if (this.host.ownsName(name)) return ok({ admitted: true });
		if (this.documents.hasCopy()) return refusals.upstreamName(name);
		if (asked.ok || publishWhenUpstreamDown) return ok({ admitted: true });
		return refusals.upstreamUnavailable(name);
	}

	/**
	 * The name became this registry's: every copy goes (inside the caller's transaction; the caller
	 * runs the alarm after it, which sends the figures). Answers the R2 keys to delete.
	 */
	forget(): string[] {
		for (const row of this.documents.clear()) this.uncount(row);
		return this.tarballs.clear().map((row) => {
			this.count(row.upstream, "tarballs", -1);
			this.count(row.upstream, "tarballBytes", -row.size);
			return row.key;
		});
	}

	// ── figures ────────────────────────────────────────────────────────────────────────────────

	get hasActivity(): boolean {
		return this.activity.hasPending;
	}

	sendActivity(): Promise<void> {
		return this.activity.send(this.env);
	}

	/** Counts in memory only (it may run inside a transaction); `wake` sets the alarm that sends it. */
	private count(upstream: string, counter: Exclude<keyof UpstreamActivity, "lastError">, amount = 1): void {
		this.activity.add(upstream, counter, amount);
	}

	private wake(): void {
		if (this.activity.hasPending) {
			this.host.wake(Date.now() + Math.max(FIGURES_FLUSH_MS, config(this.env).downloadFlushMs));
		}
	}

	/** A stored document about to be replaced or dropped leaves the figures. */
	private uncount(row: Pick<UpstreamDocumentRow, "upstream" | "status" | "size">): void {
		if (row.status === 200) this.count(row.upstream, "documents", -1);
		this.count(row.upstream, "documentBytes", -row.size);
	}

	private failed(upstream: string, message: string, name: string): void {
		this.activity.failed(upstream, message, name);
		this.wake();
	}
}

/**
 * Upstream packages are public: why a read of one failed (upstream down, no such version) is for
 * anyone to hear, where a refusal without an access is answered as a bare 404 (worker/guards.ts).
 */
function heardByAnyone(refusal: Refusal): Refusal {
	return { ...refusal, access: "public" };
}
