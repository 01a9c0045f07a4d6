// Bytes gathered from a stream, for the few places that need them whole (bounded by a limit).

/** The chunks one after the other in one array of `length` bytes. */
export function concatBytes(chunks: Uint8Array[], length: number): Uint8Array<ArrayBuffer> {
	const out = new Uint8Array(length);
	let offset = 0;
	for (const chunk of chunks) {
		out.set(chunk, offset);
		offset += chunk.byteLength;
	}
	return out;
}

/** The whole stream, or `tooLarge()` thrown as soon as it passes `limit` bytes. */
export async function readAtMost(
	stream: ReadableStream<Uint8Array>,
	limit: number,
	tooLarge: () => Error,
): Promise<Uint8Array<ArrayBuffer>> {
	const chunks: Uint8Array[] = [];
	let total = 0;
	for await (const chunk of stream) {
		total += chunk.byteLength;
		if (total > limit) throw tooLarge();
		chunks.push(chunk);
	}
	return concatBytes(chunks, total);
}
