import type { FileBundle } from "./file-bundle";
import { packTarball } from "./tarball";
import type { TarballWriter } from "./tarball-writer";

// A bundle upload becomes installable with npm: its finished file bundle is packed again as an npm
// tarball (`package/…`), reading the bundle back from R2 in one pass, front to back. The file the
// registry wrote itself (the generated package.json) comes first, from memory.

export async function packBundle(
	env: Env,
	bundle: FileBundle,
	first: { path: string; bytes: Uint8Array },
	into: TarballWriter,
): Promise<void> {
	// In bundle order, so the bytes are read once in sequence; bytes no file points at are skipped.
	const files = bundle.index.filter((f) => f.path !== first.path).sort((a, b) => a.offset - b.offset);
	const end = files.reduce((max, f) => Math.max(max, f.offset + f.size), 0);
	const object = end === 0 ? null : await env.BLOBS.get(bundle.key, { range: { offset: 0, length: end } });
	if (end > 0 && !object) throw new Error(`the bundle ${bundle.key} is missing`);
	const cursor = new Cursor((object?.body ?? new Blob([]).stream()).getReader());
	async function* entries() {
		yield { path: first.path, size: first.bytes.byteLength, body: first.bytes };
		for (const file of files) {
			await cursor.skipTo(file.offset);
			yield { path: file.path, size: file.size, body: cursor.take(file.size) };
		}
	}
	for await (const chunk of packTarball(entries())) await into.write(chunk);
}

/** Reads a stream front to back in slices of known lengths. */
class Cursor {
	private buffered: Uint8Array = new Uint8Array();
	private position = 0;

	constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

	async skipTo(offset: number): Promise<void> {
		while (this.position < offset) {
			const chunk = await this.next(offset - this.position);
			this.position += chunk.byteLength;
		}
	}

	/** The next `length` bytes, as a stream (read it to its end before asking for more). */
	take(length: number): ReadableStream<Uint8Array> {
		let left = length;
		return new ReadableStream<Uint8Array>({
			pull: async (controller) => {
				if (left === 0) {
					controller.close();
					return;
				}
				const chunk = await this.next(left);
				left -= chunk.byteLength;
				this.position += chunk.byteLength;
				controller.enqueue(chunk);
			},
		});
	}

	/** At most `max` bytes from the front. */
	private async next(max: number): Promise<Uint8Array> {
		if (this.buffered.byteLength === 0) {
			const { done, value } = await this.reader.read();
			if (done) throw new Error("the bundle ended before its index did");
			this.buffered = value;
		}
		const chunk = this.buffered.subarray(0, max);
		this.buffered = this.buffered.subarray(chunk.byteLength);
		return chunk;
	}
}
