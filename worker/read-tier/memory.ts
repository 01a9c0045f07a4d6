import type { Access } from "../../schema/package/contract";

// The first level of the read tier: this isolate's memory, least recently used first out, bounded
// by bytes. Entries of restricted packages may live here (never in the shared Cache API), because
// every request is authorised before anything cached is served. An entry is kept ready to answer:
// its body encoded once, its header lists (one per cache outcome) and its ETag made once, so a hit
// only copies them into a Response.

export type CachedEntry = {
	status: number;
	headers: [string, string][];
	body: string;
	/** The package's access when the entry was made; null for entries about no single package. */
	access: Access | null;
	/** The package's revision when the entry was made: unchanged means the entry still holds. */
	rev: string | null;
	storedAt: number;
};

/** An entry as this isolate keeps it: its body as bytes, and what answering from it needs, made once. */
export type KeptEntry = Omit<CachedEntry, "body"> & {
	bytes: Uint8Array<ArrayBuffer>;
	etag: string | null;
	/**
	 * The entry's headers with `x-registry-cache` set, by outcome (made when first asked for), as
	 * Headers: a Response copies a Headers object natively, where a list of pairs is converted
	 * string by string (three times the cost of the whole Response in workerd, #25).
	 */
	headersFor: Map<string, Headers>;
	/** The body parsed (lookups), made when first asked for. */
	parsed?: unknown;
};

const MAX_BYTES = 16 * 1024 * 1024;
const MAX_ENTRY_BYTES = 2 * 1024 * 1024;
/**
 * Of the budget, what kept refusals (read-tier/refusals-kept.ts) may hold: names anyone can make
 * up must not push out the entries of real packages.
 */
const MAX_REFUSAL_BYTES = 1024 * 1024;

/**
 * Oldest first. A read marks its entry `used` instead of moving it to the end (two changes of the
 * map on every hit); eviction gives a used entry a second chance, moving it then (CLOCK, close to
 * least recently used).
 */
const entries = new Map<
	string,
	{ entry: KeptEntry; size: number; owner: string | null; refusal: boolean; used: boolean }
>();
const byPackage = new Map<string, Set<string>>();
/** The keys of kept refusals, oldest first. */
const refusals = new Set<string>();
let bytes = 0;
let refusalBytes = 0;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function memoryGet(key: string): KeptEntry | null {
	const found = entries.get(key);
	if (!found) return null;
	found.used = true;
	return found.entry;
}

/** Keeps an entry (ready to answer from), and answers it as kept. `refusal`: a kept refusal's. */
export function memoryPut(
	key: string,
	owner: string | null,
	entry: CachedEntry | KeptEntry,
	options: { refusal?: boolean } = {},
): KeptEntry {
	const kept = keep(entry);
	const size = entrySize(key, kept);
	if (size > MAX_ENTRY_BYTES) return kept;
	memoryDelete(key);
	const refusal = options.refusal === true;
	entries.set(key, { entry: kept, size, owner, refusal, used: false });
	bytes += size;
	if (refusal) {
		refusals.add(key);
		refusalBytes += size;
		for (const oldest of refusals) {
			if (refusalBytes <= MAX_REFUSAL_BYTES) break;
			memoryDelete(oldest);
		}
	}
	if (owner !== null) {
		const keys = byPackage.get(owner) ?? new Set<string>();
		keys.add(key);
		byPackage.set(owner, keys);
	}
	for (const [oldest, held] of entries) {
		if (bytes <= MAX_BYTES) break;
		if (held.used) {
			// Read since it last came round: to the end, unmarked (the loop meets it again there).
			held.used = false;
			entries.delete(oldest);
			entries.set(oldest, held);
		} else memoryDelete(oldest);
	}
	return kept;
}

/** The entry ready to answer from (an entry already kept keeps its bytes and header lists). */
export function keep(entry: CachedEntry | KeptEntry): KeptEntry {
	if ("bytes" in entry) return entry;
	const { body, ...rest } = entry;
	const etag = entry.headers.find(([name]) => name.toLowerCase() === "etag")?.[1] ?? null;
	return { ...rest, bytes: encoder.encode(body) as Uint8Array<ArrayBuffer>, etag, headersFor: new Map() };
}

/** The entry as the colo's cache stores it (its body as text again: rare, on a store). */
export function unkept(entry: KeptEntry): CachedEntry {
	const { bytes, etag: _, headersFor: __, parsed: ___, ...rest } = entry;
	return { ...rest, body: decoder.decode(bytes) };
}

/** The body parsed as JSON (lookups), once per entry. */
export function parsedBody(entry: KeptEntry): unknown {
	if (!("parsed" in entry)) entry.parsed = JSON.parse(decoder.decode(entry.bytes));
	return entry.parsed;
}

/**
 * The entry's headers with `x-registry-cache: outcome`, made once per entry and outcome. Shared by
 * every answer from the entry: a Response copies them, and nothing may change them.
 */
export function headersWithOutcome(entry: KeptEntry, outcome: string): Headers {
	let headers = entry.headersFor.get(outcome);
	if (!headers) {
		headers = new Headers(entry.headers.filter(([name]) => name.toLowerCase() !== "x-registry-cache"));
		headers.set("x-registry-cache", outcome);
		entry.headersFor.set(outcome, headers);
	}
	return headers;
}

/**
 * What an entry holds in memory, roughly: its key (once in the map, once in its package's set:
 * the same string), its headers (as UTF-16, and again in the lists made per outcome) and its
 * body's bytes, and the objects around them. Keys and headers count as much as bodies: a key holding whatever a client sent must not
 * outgrow the budget.
 */
function entrySize(key: string, entry: KeptEntry): number {
	let headers = 0;
	for (const [name, value] of entry.headers) headers += name.length + value.length + 32;
	return (key.length + headers * 2) * 2 + entry.bytes.byteLength + 256;
}

/** Forgets every entry about a package (after a write to it in this isolate). */
export function memoryForgetPackage(name: string): void {
	for (const key of byPackage.get(name) ?? []) memoryDelete(key);
	byPackage.delete(name);
}

export function memoryStats(): { entries: number; bytes: number } {
	return { entries: entries.size, bytes };
}

/** Whether any refusal is kept at all (most of the time none is: a hit then builds no refusal key). */
export function memoryHasRefusals(): boolean {
	return refusals.size > 0;
}

/** What kept refusals hold of the budget (at most MAX_REFUSAL_BYTES). */
export function memoryRefusalBytes(): number {
	return refusalBytes;
}

function memoryDelete(key: string): void {
	const found = entries.get(key);
	if (!found) return;
	entries.delete(key);
	bytes -= found.size;
	if (found.refusal) {
		refusals.delete(key);
		refusalBytes -= found.size;
	}
	if (found.owner !== null) byPackage.get(found.owner)?.delete(key);
}
