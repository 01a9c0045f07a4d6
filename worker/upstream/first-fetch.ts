import { packageStub } from "../objects";
import { MAX_MEMORY_OBJECT_BYTES, remember } from "../read-tier/bytes";
import { keepLookup } from "../read-tier/tier";

// The first download of an upstream tarball streams through this Worker as the object fetches it.
// Once the bytes were whole and matched their integrity, and the object stored them, this isolate
// keeps what the next download needs, as a download of a stored tarball would have left it: the
// location (in the read tier, as the tarball route's lookup keeps it) and, for a small tarball, the
// bytes it just streamed. So the install after the first one finds its tarballs here instead of
// asking the object and R2 for each (#25); other isolates ask as before.

/** The read tier's key of a tarball's location (worker/npm/reads.ts getTarball). */
export const tarballLookupKey = (name: string, version: string) => `tarball:${name}@${version}`;

/**
 * Passes the client's checked bytes through, and once they ended whole (`flush`: a mismatch or a
 * cut-off errors the stream before it), keeps them and the location the object stored them at.
 */
export function keptOnceStored(
	env: Env,
	ctx: ExecutionContext,
	tarball: { name: string; version: string; size: number; integrity: string },
): TransformStream<Uint8Array, Uint8Array> {
	const { size } = tarball;
	const chunks: Uint8Array[] | null = size <= MAX_MEMORY_OBJECT_BYTES ? [] : null;
	let length = 0;
	return new TransformStream({
		transform(chunk, controller) {
			chunks?.push(chunk);
			length += chunk.byteLength;
			controller.enqueue(chunk);
		},
		flush() {
			if (length !== size) return;
			ctx.waitUntil(
				keep(env, tarball, chunks).catch((error: unknown) =>
					console.error(`could not keep the location of ${tarball.name}@${tarball.version}`, error),
				),
			);
		},
	});
}

/**
 * The same for a first download answered whole (checked by the object before it answered): once
 * the object stored it, this isolate keeps the location, and the bytes when it has them.
 */
export function keepAnswered(
	env: Env,
	ctx: ExecutionContext,
	tarball: { name: string; version: string; size: number; integrity: string },
	bytes: Uint8Array | null,
): void {
	ctx.waitUntil(
		keep(env, tarball, bytes && bytes.byteLength <= MAX_MEMORY_OBJECT_BYTES ? [bytes.slice()] : null).catch((error: unknown) =>
			console.error(`could not keep the location of ${tarball.name}@${tarball.version}`, error),
		),
	);
}

async function keep(
	env: Env,
	{ name, version, ...streamed }: { name: string; version: string; size: number; integrity: string },
	chunks: Uint8Array[] | null,
): Promise<void> {
	const stored = await packageStub(env, name).storedUpstreamTarball(name, version);
	if (!stored) return;
	const { key, size, integrity, access, rev } = stored;
	keepLookup(tarballLookupKey(name, version), name, { key, size, integrity, access, upstream: true }, access, rev);
	// The bytes streamed are those stored (both checked against one integrity): kept under the stored key.
	if (chunks === null || size !== streamed.size || integrity !== streamed.integrity) return;
	const bytes = new Uint8Array(size);
	let at = 0;
	for (const chunk of chunks) {
		bytes.set(chunk, at);
		at += chunk.byteLength;
	}
	remember(key, bytes);
}
