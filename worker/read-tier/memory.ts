import type { Access } from "../../schema/package/contract";

// The first level of the read tier: this isolate's memory, least recently used first out, bounded
// by bytes. Entries of restricted packages may live here (never in the shared Cache API), because
// every request is authorised before anything cached is served.

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

const MAX_BYTES = 16 * 1024 * 1024;
const MAX_ENTRY_BYTES = 2 * 1024 * 1024;

const entries = new Map<string, { entry: CachedEntry; size: number; owner: string | null }>();
const byPackage = new Map<string, Set<string>>();
let bytes = 0;

export function memoryGet(key: string): CachedEntry | null {
	const found = entries.get(key);
	if (!found) return null;
	// Map order is insertion order: re-inserting marks the entry most recently used.
	entries.delete(key);
	entries.set(key, found);
	return found.entry;
}

export function memoryPut(key: string, owner: string | null, entry: CachedEntry): void {
	const size = entrySize(key, entry);
	if (size > MAX_ENTRY_BYTES) return;
	memoryDelete(key);
	entries.set(key, { entry, size, owner });
	bytes += size;
	if (owner !== null) {
		const keys = byPackage.get(owner) ?? new Set<string>();
		keys.add(key);
		byPackage.set(owner, keys);
	}
	for (const [oldest] of entries) {
		if (bytes <= MAX_BYTES) break;
		memoryDelete(oldest);
	}
}

/**
 * What an entry holds in memory, roughly: its key (once in the map, once in its package's set:
 * the same string), its headers and its body, as UTF-16, and the objects around them. Keys and
 * headers count as much as bodies: a key holding whatever a client sent must not outgrow the budget.
 */
function entrySize(key: string, entry: CachedEntry): number {
	let headers = 0;
	for (const [name, value] of entry.headers) headers += name.length + value.length + 32;
	return (key.length + headers + entry.body.length) * 2 + 256;
}

/** Forgets every entry about a package (after a write to it in this isolate). */
export function memoryForgetPackage(name: string): void {
	for (const key of byPackage.get(name) ?? []) memoryDelete(key);
	byPackage.delete(name);
}

export function memoryStats(): { entries: number; bytes: number } {
	return { entries: entries.size, bytes };
}

function memoryDelete(key: string): void {
	const found = entries.get(key);
	if (!found) return;
	entries.delete(key);
	bytes -= found.size;
	if (found.owner !== null) byPackage.get(found.owner)?.delete(key);
}
