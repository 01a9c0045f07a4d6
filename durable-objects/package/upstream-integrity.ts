import { digestAccepted, type ExpectedDigest } from "../../schema/upstream";

// Bytes from upstream, checked as they stream. The check can only finish at the end, and by then
// a plain pass-through would have handed every byte to the client and to R2, which would take the
// body as complete. So the last chunk is held back until the digest is known: on a match it goes
// out and the stream closes; on a mismatch the stream errors instead, which fails the client's
// download (a body cut short) and the R2 upload (nothing is stored).

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
