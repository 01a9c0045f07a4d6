import { recordR2Read } from "../metrics/trace";
import { edgeGetBytes, edgePutBytes } from "./edge";

// The bytes of tarballs and files. R2 keys are never reused and their bytes never change (a key
// names one publish attempt), so a cached copy is always right and is kept forever: small objects
// in this isolate's memory, public ones in the colo's cache as well. Large objects stream.

export const MAX_MEMORY_OBJECT_BYTES = 1024 * 1024;
const MAX_MEMORY_BYTES = 32 * 1024 * 1024;

/**
 * Oldest first; a read marks its entry `used` rather than moving it (two changes of the map per
 * download), and eviction gives a used one a second chance (CLOCK, as read-tier/memory.ts).
 */
const entries = new Map<string, { bytes: Uint8Array<ArrayBuffer>; used: boolean }>();
let total = 0;

function remembered(key: string): Uint8Array<ArrayBuffer> | undefined {
	const found = entries.get(key);
	if (!found) return undefined;
	found.used = true;
	return found.bytes;
}

/** Keeps an object's bytes (at most MAX_MEMORY_OBJECT_BYTES) in this isolate: they never change under their key. */
export function remember(key: string, bytes: Uint8Array<ArrayBuffer>): void {
	if (bytes.byteLength > MAX_MEMORY_OBJECT_BYTES || entries.has(key)) return;
	entries.set(key, { bytes, used: false });
	total += bytes.byteLength;
	for (const [oldest, held] of entries) {
		if (total <= MAX_MEMORY_BYTES) break;
		entries.delete(oldest);
		if (held.used) {
			held.used = false;
			entries.set(oldest, held);
		} else total -= held.bytes.byteLength;
	}
}

/** `shared`: public content, which the colo's cache may hold; `range`: only these bytes. */
type ReadOptions = { shared: boolean; range?: { offset: number; length: number } };

/**
 * The bytes of an object (or of a range of it): from memory, from the colo's cache when `shared`
 * (public content only), else from R2, keeping a copy on the way. Null when R2 has no such object.
 */
export function readBytes(
	env: Env,
	ctx: ExecutionContext,
	key: string,
	size: number,
	options: ReadOptions,
): Uint8Array<ArrayBuffer> | Promise<Uint8Array<ArrayBuffer> | ReadableStream | null> {
	const { range } = options;
	const cacheKey = range ? `${key}#${range.offset}+${range.length}` : key;
	// A hit in memory is answered at once: a hot download awaits nothing here.
	return remembered(cacheKey) ?? fetchBytes(env, ctx, key, cacheKey, size, options);
}

/** The bytes from the colo's cache or R2, a copy kept on the way (see readBytes). */
async function fetchBytes(
	env: Env,
	ctx: ExecutionContext,
	key: string,
	cacheKey: string,
	size: number,
	options: ReadOptions,
): Promise<Uint8Array<ArrayBuffer> | ReadableStream | null> {
	const { range } = options;
	if (options.shared) {
		const edge = await edgeGetBytes(env, cacheKey);
		if (edge?.body) {
			if (size > MAX_MEMORY_OBJECT_BYTES) return edge.body;
			const bytes = new Uint8Array(await edge.arrayBuffer());
			remember(cacheKey, bytes);
			return bytes;
		}
	}
	recordR2Read(key.split("/", 1)[0] ?? "");
	const object = await env.BLOBS.get(key, range ? { range } : {});
	if (!object) return null;
	if (size > MAX_MEMORY_OBJECT_BYTES) {
		if (!options.shared) return object.body;
		const [client, cache] = object.body.tee();
		ctx.waitUntil(edgePutBytes(env, cacheKey, cache));
		return client;
	}
	const bytes = new Uint8Array(await object.arrayBuffer());
	remember(cacheKey, bytes);
	if (options.shared) ctx.waitUntil(edgePutBytes(env, cacheKey, bytes));
	return bytes;
}
