// Small immutable R2 objects kept in this isolate's memory. R2 keys here are never reused and
// their bytes never change (a key names one publish attempt), so a cached copy is always right;
// the package object is still asked on every request (access, counting), only the R2 read is saved.

const MAX_OBJECT_BYTES = 1024 * 1024;
const MAX_TOTAL_BYTES = 32 * 1024 * 1024;

const entries = new Map<string, Uint8Array<ArrayBuffer>>();
let total = 0;

function cachedBlob(key: string): Uint8Array<ArrayBuffer> | undefined {
	const bytes = entries.get(key);
	if (bytes) {
		// Map order is insertion order: re-inserting marks the entry most recently used.
		entries.delete(key);
		entries.set(key, bytes);
	}
	return bytes;
}

function rememberBlob(key: string, bytes: Uint8Array<ArrayBuffer>): void {
	if (bytes.byteLength > MAX_OBJECT_BYTES || entries.has(key)) return;
	entries.set(key, bytes);
	total += bytes.byteLength;
	for (const [oldest, old] of entries) {
		if (total <= MAX_TOTAL_BYTES) break;
		entries.delete(oldest);
		total -= old.byteLength;
	}
}

/** The bytes of a small object (from memory when possible), or a stream for a large one. */
export async function readBlob(
	bucket: R2Bucket,
	key: string,
	size: number,
	range?: { offset: number; length: number },
): Promise<Uint8Array<ArrayBuffer> | ReadableStream | null> {
	const cacheKey = range ? `${key}#${range.offset}+${range.length}` : key;
	const hit = cachedBlob(cacheKey);
	if (hit) return hit;
	const object = await bucket.get(key, range ? { range } : {});
	if (!object) return null;
	if (size > MAX_OBJECT_BYTES) return object.body;
	const bytes = new Uint8Array(await object.arrayBuffer());
	rememberBlob(cacheKey, bytes);
	return bytes;
}
