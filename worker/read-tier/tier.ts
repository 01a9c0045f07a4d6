import { config } from "../../schema/config";
import { etagMatches } from "../../schema/etag";
import type { Access } from "../../schema/package/contract";
import { type EdgeSlot, edgeForgetPackage, edgeSlot } from "./edge";
import {
	type CachedEntry,
	headersWithOutcome,
	type KeptEntry,
	keep,
	memoryForgetPackage,
	memoryGet,
	memoryPut,
	parsedBody,
	unkept,
} from "./memory";
import { type CacheOutcome, recordRead } from "./metrics";
import {
	hasKeptRefusal,
	keepRefusal,
	keptRefusalResponse,
	REFUSAL_KEEP_MS,
	throwHidden,
	throwKeptRefusal,
} from "./refusals-kept";

// The read tier: hot reads answered without asking the package object. Two levels, this isolate's
// memory and the colo's Cache API; an entry is fresh for READ_CACHE_SECONDS, then revalidated by
// the package's revision (an unchanged package costs the object a tiny `revision()`, no document);
// a write drops its package's entries here and in this colo before it answers (`forgetPackage`).
// Every request is authorised before anything cached is served; restricted entries never leave
// this isolate. Cached answers are keyed by the base URL they were built for (PUBLIC_URL, or the
// request's origin), so no request can make a body that others are served.

export type TierRead = {
	request: Request;
	env: Env;
	/** Stores into the colo's cache go on after the answer (`waitUntil`). */
	ctx: ExecutionContext;
	/** The route, for metrics. */
	route: string;
	/** The package the entry is about (its writes forget it); null for answers about none. */
	owner: string | null;
	/** Everything the answer depends on besides the package's state: base URL, path, query, variant. */
	key: string;
	/** Whether the entry may be shared through the colo's cache (never restricted content). */
	shareable: (access: Access | null) => boolean;
	/**
	 * The caller's class (read-tier/refusals-kept.ts): the 404 of a missing package (or of one the
	 * caller may not read) is kept for it a few seconds. Absent: refusals are not kept.
	 */
	caller?: string;
	/**
	 * Whether the caller may be served an entry of this access. What it needs (the principal) is
	 * known before the tier is asked, so it answers at once (a hit awaits nothing), and as a boolean:
	 * an async check could not pass for one. A caller it refuses is answered as for a missing package.
	 */
	admits: (access: Access | null) => boolean;
	/** The package's revision now, to revalidate an expired entry; absent: expired entries are read again. */
	revision?: () => Promise<string | null>;
	/**
	 * The answer goes to the client as it is (a packument, not a page built around it): a kept
	 * refusal is then answered as the router answers the thrown one, without throwing it.
	 */
	respondsToClient?: boolean;
	/** Asks the object and builds the answer (authorising the caller on the way). */
	produce: () => Promise<{ response: Response; access: Access | null; rev: string | null }>;
};

/** A read without its `produce`, which is handed on beside it (a lookup adapts its own). */
type TierAsk = Omit<TierRead, "produce">;

/** The answer: at once on a hit in this isolate's memory (no promise made), else once the object or the colo's cache has answered. */
export function throughReadTier(read: TierRead): Response | Promise<Response> {
	const started = Date.now();
	const resolved = resolve(read, read.produce);
	if (resolved instanceof Promise) return resolved.then((settled) => respond(read, settled, started));
	return respond(read, resolved, started);
}

function respond(read: TierRead, resolved: Resolved | typeof KEPT_REFUSAL, started: number): Response {
	if (resolved === KEPT_REFUSAL) return read.respondsToClient ? keptRefusalResponse() : throwHidden();
	return answer(read, resolved.entry ?? resolved.response, resolved.outcome, started);
}

type Looked<V> = { value: V; outcome: CacheOutcome };

/** A lookup (where a tarball or file lies) through the tier: the value, and how it was found (at once on a hit). */
export function lookupThroughReadTier<V>(
	read: Omit<TierRead, "produce"> & { produce: () => Promise<{ value: V; access: Access | null; rev: string | null }> },
): Looked<V> | Promise<Looked<V>> {
	const started = Date.now();
	// The lookup's own produce, adapted to an answer to keep: the read itself is not copied.
	const resolved = resolve(read, async () => {
		const { value, access, rev } = await read.produce();
		return { response: Response.json(value), access, rev };
	});
	if (resolved instanceof Promise) return resolved.then((settled) => looked<V>(read, settled, started));
	return looked<V>(read, resolved, started);
}

function looked<V>(
	read: TierAsk,
	resolved: Resolved | typeof KEPT_REFUSAL,
	started: number,
): Looked<V> | Promise<Looked<V>> {
	if (resolved === KEPT_REFUSAL) throwHidden();
	recordRead(read.env, read.route, resolved.outcome, started);
	// A kept entry's value is parsed once and shared by every request: callers only read it.
	if (resolved.entry) return { value: parsedBody(resolved.entry) as V, outcome: resolved.outcome };
	const outcome = resolved.outcome;
	return resolved.response.json().then((value) => ({ value: value as V, outcome }));
}

/**
 * Keeps a lookup's value in this isolate's memory as `lookupThroughReadTier` would have kept its
 * object's answer (only here: the colo's cache gets it from the next isolate that asks the object),
 * for what the Worker learnt on another path: an upstream tarball's location once its first fetch
 * stored it (worker/upstream/first-fetch.ts, #25).
 */
export function keepLookup(key: string, owner: string, value: unknown, access: Access, rev: string): void {
	const headers: [string, string][] = [["content-type", "application/json"]];
	memoryPut(key, owner, { status: 200, headers, body: JSON.stringify(value), access, rev, storedAt: Date.now() });
}

/** An entry to answer from, or (for answers that are not kept: errors, 304s) the object's own response. */
type Resolved = { outcome: CacheOutcome } & ({ entry: KeptEntry } | { entry: null; response: Response });

/** A refusal kept for the caller's class: the 404 of a missing package, answered at once. */
const KEPT_REFUSAL = Symbol("kept refusal");

type Resolution = Resolved | typeof KEPT_REFUSAL;

/** A fresh entry in this isolate's memory (or a kept refusal) is resolved at once: a hit makes no promise. */
function resolve(read: TierAsk, produce: TierRead["produce"]): Resolution | Promise<Resolution> {
	const ttl = config(read.env).readCacheMs;
	if (ttl === 0 || wantsFreshCopy(read.request)) return bypass(read, produce, ttl);
	const started = Date.now();
	const refusalMs = Math.min(ttl, REFUSAL_KEEP_MS);
	// A refusal kept for this caller class is answered first, the same whatever it refused.
	if (read.caller !== undefined && hasKeptRefusal(read.caller, read.key, refusalMs)) return KEPT_REFUSAL;
	const entry = memoryGet(read.key);
	// A caller the entry refuses goes the way of a key nothing is cached for here, a missing
	// package's: the colo's cache is looked at, the object is asked and refuses. Answered from
	// memory, a refusal would tell by its speed (or by the object calls it makes) that a restricted
	// package exists.
	if (entry && !read.admits(entry.access)) return resolveFurther(read, produce, null, ttl, refusalMs, started);
	if (entry && started - entry.storedAt < ttl) return { entry, outcome: "hit" };
	return resolveFurther(read, produce, entry, ttl, refusalMs, started);
}

/** A fresh copy asked for refreshes the cache too (under the generation before the read). */
async function bypass(read: TierAsk, produce: TierRead["produce"], ttl: number): Promise<Resolved> {
	const slot = ttl > 0 ? await edgeSlot(read.env, read.owner, read.key) : null;
	return settle(read, await produce(), slot, "bypass");
}

/** No fresh entry here: the colo's cache, a revalidation by revision, or the object. */
async function resolveFurther(
	read: TierAsk,
	produce: TierRead["produce"],
	found: KeptEntry | null,
	ttl: number,
	refusalMs: number,
	started: number,
): Promise<Resolution> {
	let entry = found;
	// Looked up only when this isolate has nothing: a memory hit never touches the colo's cache.
	let slot: EdgeSlot | null = null;
	if (!entry) {
		slot = await edgeSlot(read.env, read.owner, read.key);
		const shared = await slot.get();
		if (shared) entry = memoryPut(read.key, read.owner, shared);
		if (entry && !read.admits(entry.access)) entry = null;
	}
	if (entry) {
		if (started - entry.storedAt < ttl) return { entry, outcome: "hit" };
		// A stale entry served to someone it admitted: its access holds while the package's revision does.
		if (read.revision && entry.rev !== null && (await revisionOnce(read.key, read.revision)) === entry.rev) {
			// Renewed where it was found: one from this isolate's memory there only (the colo's copy,
			// the same bytes, is revalidated by the isolate that next takes it from there), so a warm
			// install's expired entries cost their object a revision() each and the colo's cache nothing (#25).
			const renewedEntry = { ...entry, storedAt: Date.now() };
			const renewed = slot ? store(read, renewedEntry, slot) : memoryPut(read.key, read.owner, renewedEntry);
			return { entry: renewed, outcome: "revalidated" };
		}
	}
	// A cold key under load: one request asks the object, the others wait and take its entry.
	const filling = fills.get(read.key);
	if (filling) {
		await filling;
		if (read.caller !== undefined) throwKeptRefusal(read.caller, read.key, refusalMs);
		const filled = memoryGet(read.key);
		if (filled && Date.now() - filled.storedAt < ttl && read.admits(filled.access)) {
			return { entry: filled, outcome: "hit" };
		}
	}
	let filled = () => {};
	fills.set(read.key, new Promise<void>((resolve) => (filled = resolve)));
	try {
		slot ??= await edgeSlot(read.env, read.owner, read.key);
		return await settle(read, await produce(), slot, "miss");
	} catch (error) {
		if (read.caller !== undefined && refusalMs > 0) keepRefusal(read.caller, read.key, read.owner, error);
		throw error;
	} finally {
		fills.delete(read.key);
		filled();
	}
}

/** Keys being filled from their object right now; requests for them wait instead of asking too. */
const fills = new Map<string, Promise<void>>();

/** `slot`: where the answer is kept in the colo's cache (besides this isolate); null: not kept. */
async function settle(
	read: TierAsk,
	produced: { response: Response; access: Access | null; rev: string | null },
	slot: EdgeSlot | null,
	outcome: CacheOutcome,
): Promise<Resolved> {
	const entry = await remember(read, produced, slot);
	return entry ? { entry, outcome } : { entry: null, response: produced.response, outcome };
}

/**
 * When an entry expires under load, every request in flight would revalidate it at once: they
 * share one question to the object instead (the answer is the same for every caller; each is
 * still authorised on its own).
 */
const revalidations = new Map<string, Promise<string | null>>();

function revisionOnce(key: string, revision: () => Promise<string | null>): Promise<string | null> {
	let pending = revalidations.get(key);
	if (!pending) {
		pending = revision().finally(() => revalidations.delete(key));
		revalidations.set(key, pending);
	}
	return pending;
}

/** After a write: this isolate and this colo stop serving anything cached about the package. */
export async function forgetPackage(env: Env, name: string): Promise<void> {
	memoryForgetPackage(name);
	await edgeForgetPackage(env, name);
}

/**
 * `Cache-Control: no-cache` or `max-age=0`, or `Pragma: no-cache`: the client asks for a fresh
 * copy (curl -H, a browser's hard reload). npm, pnpm, yarn and bun send none of these by default.
 */
export function wantsFreshCopy(request: Request): boolean {
	const cacheControl = request.headers.get("cache-control");
	const pragma = request.headers.get("pragma");
	// The common case, an installer's request, asks for neither: no lowercasing, no pattern.
	if (cacheControl === null && pragma === null) return false;
	return (
		/(^|[\s,])(no-cache|max-age=0)($|[\s,])/.test((cacheControl ?? "").toLowerCase()) ||
		(pragma ?? "").toLowerCase().includes("no-cache")
	);
}

/** Answers a route marked as never to be kept (a streamed packument: too large to read into memory). */
const neverKept = new WeakSet<Response>();

/** Marks an answer the tier passes on as it is, without reading it to keep it. */
export function neverKeep(response: Response): Response {
	neverKept.add(response);
	return response;
}

async function remember(
	read: TierAsk,
	produced: { response: Response; access: Access | null; rev: string | null },
	slot: EdgeSlot | null,
): Promise<KeptEntry | null> {
	if (produced.response.status !== 200 || neverKept.has(produced.response)) return null;
	const entry: CachedEntry = {
		status: 200,
		headers: [...produced.response.headers],
		body: await produced.response.text(),
		access: produced.access,
		rev: produced.rev,
		storedAt: Date.now(),
	};
	return slot ? store(read, entry, slot) : keep(entry);
}

/** Into this isolate's memory at once; into the colo's cache after the answer, when anyone may read it. */
function store(read: TierAsk, entry: CachedEntry | KeptEntry, slot: EdgeSlot): KeptEntry {
	const kept = memoryPut(read.key, read.owner, entry);
	if (read.shareable(entry.access)) {
		const shared = "bytes" in entry ? unkept(entry) : entry;
		read.ctx.waitUntil(slot.put(shared).catch((error) => console.error("read tier: colo cache put failed", error)));
	}
	return kept;
}

function answer(read: TierAsk, entry: KeptEntry | Response, outcome: CacheOutcome, started: number): Response {
	recordRead(read.env, read.route, outcome, started);
	if (entry instanceof Response) {
		// An answer too large to keep (a streamed packument) is still answered 304 on its ETag.
		const etag = entry.status === 200 ? entry.headers.get("etag") : null;
		if (etag !== null && etagMatches(read.request.headers.get("if-none-match"), etag)) {
			entry.body?.cancel().catch(() => {});
			const headers = new Headers(entry.headers);
			headers.delete("content-type");
			headers.set("x-registry-cache", outcome);
			return new Response(null, { status: 304, headers });
		}
		const response = new Response(entry.body, entry);
		response.headers.set("x-registry-cache", outcome);
		return response;
	}
	// The common path: the entry's bytes and its header list for this outcome, both made once.
	if (entry.etag !== null && etagMatches(read.request.headers.get("if-none-match"), entry.etag)) {
		const headers = new Headers(headersWithOutcome(entry, outcome));
		headers.delete("content-type");
		return new Response(null, { status: 304, headers });
	}
	return new Response(entry.bytes, { status: entry.status, headers: headersWithOutcome(entry, outcome) });
}
