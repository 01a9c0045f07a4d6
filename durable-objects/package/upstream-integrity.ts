import { digestAccepted, type ExpectedDigest } from "../../schema/upstream";

// Bytes from upstream, checked as they stream. The check can only finish at the end, and by then
// a plain pass-through would have handed every byte to the client and to R2, which would take the
// body as complete. So the last chunk is held back until the digest is known: on a match it goes
// out and the stream closes; on a mismatch the stream errors instead, which fails the R2 upload
// (nothing is stored) and, for a tarball streamed to its client, the client's download.
//
// No client is handed unverified bytes (#22.13): the object downloads and checks every tarball,
// then answers (a small one from memory while R2 stores it, a larger one once stored), as a proxy
// repository that keeps what it serves does; a mismatch is the catalogue's clean 502
// (`upstreamIntegrity`) for every caller, never a body cut short (which the runtime logs as an
// uncaught exception, and which a client that checks no digest would keep as whole). Memory does
// not grow with the size: the download goes through the BlobWriter's parts under the isolate's
// part budget (durable-objects/blob-writer.ts), and a copy for the client is kept only up to
// ANSWERED_FROM_MEMORY_BYTES, within its own budget. The cost is the first byte: a client waits
// until the whole tarball arrived (it waits for the last byte in any case), at most
// UPSTREAM_DOWNLOAD_SECONDS (300, npm's own fetch timeout is 5 minutes).

/**
 * A verified tarball up to this size is answered to the client that began its fetch from memory,
 * as soon as its digest matched, while R2 stores it: no wait for the store and no read back, which
 * put time on every cold install (an R2 write and read in series per tarball). The same 1 MiB the
 * Worker keeps small objects in memory by (worker/read-tier/bytes.ts); larger ones are read back.
 */
export const ANSWERED_FROM_MEMORY_BYTES = 1024 * 1024;

/** Bytes of verified tarballs held in this isolate for their first client, at most. */
export const MEMORY_ANSWER_BUDGET_BYTES = 16 * 1024 * 1024;
let heldForAnswers = 0;

/**
 * Room to hold a tarball of `size` bytes until its first client has it, within the isolate's
 * budget; null when it is too large, of unknown size, or the budget is spent (then it is answered
 * from R2 once stored). The function answered gives the room back (once, however often called).
 */
export function holdForAnswer(size: number | null): (() => void) | null {
	if (size === null || size > ANSWERED_FROM_MEMORY_BYTES) return null;
	if (heldForAnswers + size > MEMORY_ANSWER_BUDGET_BYTES) return null;
	heldForAnswers += size;
	let held = true;
	return () => {
		if (held) heldForAnswers -= size;
		held = false;
	};
}

/**
 * The first client's copy of a checked tarball, whole once its digest matched; null when it failed
 * (a mismatch or a stall: the fetch's own answer says which). Gives its room back either way.
 */
export async function verifiedCopy(copy: ReadableStream<Uint8Array>, release: () => void): Promise<Uint8Array | null> {
	try {
		return new Uint8Array(await new Response(copy).arrayBuffer());
	} catch {
		return null;
	} finally {
		release();
	}
}

export type IntegrityCheck = {
	stream: TransformStream<Uint8Array, Uint8Array>;
	/** Whether the stream failed because the bytes did not match (rather than because they stopped coming). */
	mismatched: () => boolean;
};

export function integrityCheck(expected: ExpectedDigest): IntegrityCheck {
	const digest = new crypto.DigestStream(expected.algorithm);
	const writer = digest.getWriter();
	let held: Uint8Array | null = null;
	let mismatched = false;
	const stream = new TransformStream<Uint8Array, Uint8Array>({
		async transform(chunk, controller) {
			// A copy: the digest must not share a buffer with the readers downstream.
			await writer.write(chunk.slice());
			if (held) controller.enqueue(held);
			held = chunk;
		},
		async flush(controller) {
			await writer.close();
			if (!digestAccepted(expected, new Uint8Array(await digest.digest))) {
				mismatched = true;
				controller.error(new Error("the bytes do not match the integrity upstream published"));
				return;
			}
			if (held) controller.enqueue(held);
		},
	});
	return { stream, mismatched: () => mismatched };
}
