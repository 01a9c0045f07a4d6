// Reading a large request body without leaving a buffer behind per piece (#22.4). The runtime's
// own reads hand out a new buffer each time: a 20 MB publish body left 20 MB of them for the
// collector, which, in an isolate taking several publishes at once, came late (tens of MB of
// garbage ArrayBuffers at the peak). A byte stream (a request's body in the runtime is one) is
// read into one buffer instead, over and over; a stream made in JavaScript as it hands pieces out.

/** The most one read brings. */
const READ_BYTES = 64 * 1024;

export class BodyReader {
	private readonly reader:
		| { byob: true; stream: ReadableStreamBYOBReader }
		| { byob: false; stream: ReadableStreamDefaultReader<Uint8Array> };
	private buffer = new ArrayBuffer(READ_BYTES);

	constructor(body: ReadableStream<Uint8Array>) {
		let byob: ReadableStreamBYOBReader | null = null;
		try {
			byob = body.getReader({ mode: "byob" });
		} catch {
			// Not a byte stream.
		}
		this.reader = byob ? { byob: true, stream: byob } : { byob: false, stream: body.getReader() };
	}

	/** The next piece, null at the end. A piece is only good until the next read (its buffer is reused). */
	async read(): Promise<Uint8Array | null> {
		if (!this.reader.byob) {
			const { done, value } = await this.reader.stream.read();
			return done ? null : value;
		}
		const { done, value } = await this.reader.stream.read(new Uint8Array(this.buffer));
		// The read takes the buffer and hands it back, filled, inside `value`.
		if (value) this.buffer = value.buffer as ArrayBuffer;
		return done || !value ? null : value;
	}

	cancel(): Promise<void> {
		return this.reader.stream.cancel();
	}
}
