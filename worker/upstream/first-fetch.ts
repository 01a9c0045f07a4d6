import { packageStub } from "../objects";
import { MAX_MEMORY_OBJECT_BYTES, remember } from "../read-tier/bytes";
import { keepLookup } from "../read-tier/tier";

// The first download of an upstream tarball is answered from the object (worker/upstream/tarballs.ts).
// Once the object stored the bytes, this isolate keeps what the next download needs, as a download
// of a stored tarball would have left it: the location (in the read tier, as the tarball route's
// lookup keeps it) and, for a small tarball, the bytes it just answered. So the install after the
// first one finds its tarballs here instead of asking the object and R2 for each (#25); other
// isolates ask as before.

/** The read tier's key of a tarball's location (worker/npm/reads.ts getTarball). */
export const tarballLookupKey = (name: string, version: string) => `tarball:${name}@${version}`;

/**
 * After a first download was answered (checked by the object before it answered): once the object
 * stored it, this isolate keeps the location, and the bytes when it has them (a small one).
 */
export function keepAnswered(
	env: Env,
	ctx: ExecutionContext,
	tarball: { name: string; version: string; size: number; integrity: string },
	bytes: Uint8Array | null,
): void {
	// A copy: the answer's body may take the buffer it was given.
	const kept = bytes && bytes.byteLength <= MAX_MEMORY_OBJECT_BYTES ? bytes.slice() : null;
	ctx.waitUntil(
		keep(env, tarball, kept).catch((error: unknown) =>
			console.error(`could not keep the location of ${tarball.name}@${tarball.version}`, error),
		),
	);
}

async function keep(
	env: Env,
	{ name, version, ...answered }: { name: string; version: string; size: number; integrity: string },
	bytes: Uint8Array<ArrayBuffer> | null,
): Promise<void> {
	const stored = await packageStub(env, name).storedUpstreamTarball(name, version);
	if (!stored) return;
	const { key, size, integrity, access, rev } = stored;
	keepLookup(tarballLookupKey(name, version), name, { key, size, integrity, access, upstream: true }, access, rev);
	// The bytes answered are those stored (both checked against one integrity): kept under the stored key.
	if (bytes && size === answered.size && integrity === answered.integrity) remember(key, bytes);
}
