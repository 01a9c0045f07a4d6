import { config } from "../../schema/config";
import type { CachedEntry } from "./memory";

// The second level of the read tier: the colo's Cache API (`caches.default`), shared by every
// isolate of the colo. Only entries that anyone may read go here (public packages, anonymous
// search). A write cannot list and delete every key of its package (ranges, periods, queries are
// open-ended), so each package has a generation marker in the same cache: every entry records the
// generation it was made under, and a write in this colo replaces the marker, which orphans every
// older entry at once for every isolate here. The marker and the entry are looked up together.
// `npm start` runs one isolate, with the Cache API off (it would have no one to share with): it
// says so (COLO_CACHE=false), and the tier then makes no calls that could only answer "nothing".

const ORIGIN = "https://read-tier.invalid";
/** Entries stay long enough to be revalidated after READ_CACHE_SECONDS instead of read again. */
const KEEP_SECONDS = 24 * 60 * 60;

function cache(env: Env): Cache | null {
	return typeof caches === "undefined" || !config(env).coloCache ? null : caches.default;
}

async function generation(store: Cache, owner: string | null): Promise<string> {
	if (owner === null) return "-";
	const marker = await store.match(markerKey(owner));
	return marker ? await marker.text() : "0";
}

function markerKey(owner: string): string {
	return `${ORIGIN}/generation/${encodeURIComponent(owner)}`;
}

/** One key's place in this colo's cache, under the package's generation as it was when looked up. */
export type EdgeSlot = {
	get(): Promise<CachedEntry | null>;
	/**
	 * Stores under the generation of the lookup: an answer produced before a write that lands after
	 * it is orphaned with everything else of the older generation, never served as current.
	 */
	put(entry: CachedEntry): Promise<void>;
};

/** What the colo's cache holds for a key: the entry and the generation of its package it was made under. */
type EdgeEntry = { generation: string; entry: CachedEntry };

/** Where nothing is cached, and nothing can be. */
const NO_SLOT: EdgeSlot = { get: async () => null, put: async () => {} };

export async function edgeSlot(env: Env, owner: string | null, key: string): Promise<EdgeSlot> {
	const store = cache(env);
	if (!store) return NO_SLOT;
	const url = `${ORIGIN}/entry/${encodeURIComponent(key)}`;
	const [current, found] = await Promise.all([generation(store, owner), store.match(url)]);
	return {
		async get() {
			if (!found) return null;
			const stored = (await found.json()) as EdgeEntry;
			return stored.generation === current ? stored.entry : null;
		},
		async put(entry) {
			const body = JSON.stringify({ generation: current, entry } satisfies EdgeEntry);
			await store.put(url, new Response(body, { headers: { "cache-control": `public, max-age=${KEEP_SECONDS}` } }));
		},
	};
}

/** A write to a package: every entry of it in this colo is orphaned before the write answers. */
export async function edgeForgetPackage(env: Env, owner: string): Promise<void> {
	const store = cache(env);
	if (!store) return;
	await store.put(
		markerKey(owner),
		new Response(crypto.randomUUID(), { headers: { "cache-control": `public, max-age=${KEEP_SECONDS * 2}` } }),
	);
}

/** Immutable bytes (tarballs, files) by their R2 key (and range): never stale, shared forever. */
export async function edgeGetBytes(env: Env, key: string): Promise<Response | null> {
	return (await cache(env)?.match(`${ORIGIN}/bytes/${encodeURIComponent(key)}`)) ?? null;
}

export async function edgePutBytes(
	env: Env,
	key: string,
	bytes: Uint8Array<ArrayBuffer> | ReadableStream,
): Promise<void> {
	await cache(env)?.put(
		`${ORIGIN}/bytes/${encodeURIComponent(key)}`,
		new Response(bytes, { headers: { "cache-control": "public, max-age=31536000, immutable" } }),
	);
}
