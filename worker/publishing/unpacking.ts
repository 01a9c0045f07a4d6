// A consumer of a byte stream run alongside its producer: the tarball of a publish is inflated
// into the file bundle while its base64 text is still arriving, instead of being read back from
// R2 afterwards. The producer feeds bytes (waiting when the consumer is behind, so nothing piles
// up); a consumer that fails or finishes early stops taking bytes, and its outcome is held until
// the producer asks for it: a publish reports a wrong checksum before a broken tarball.

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

export class Unpacking<T> {
	private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
	private readonly outcome: Promise<Outcome<T>>;
	private settled = false;

	constructor(consume: (stream: ReadableStream<Uint8Array>) => Promise<T>) {
		const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
		this.writer = writable.getWriter();
		this.outcome = consume(readable).then(
			(value): Outcome<T> => ({ ok: true, value }),
			(error: unknown): Outcome<T> => ({ ok: false, error }),
		);
		void this.outcome.then(() => {
			this.settled = true;
		});
	}

	/** Hands bytes to the consumer, unless it has stopped taking them. */
	async feed(bytes: Uint8Array): Promise<void> {
		if (this.settled || bytes.byteLength === 0) return;
		try {
			await Promise.race([this.writer.write(bytes), this.outcome]);
		} catch {
			// The consumer failed: its outcome says why.
		}
	}

	/** The consumer's result once the stream has ended; its failure is raised here. */
	async result(): Promise<T> {
		if (!this.settled) {
			await Promise.race([this.writer.close(), this.outcome]).catch(() => {});
		}
		const outcome = await this.outcome;
		if (!outcome.ok) throw outcome.error;
		return outcome.value;
	}

	/** Ends the consumer without a result (the request failed); waits until it has let go. */
	async abandon(reason: unknown): Promise<void> {
		await this.writer.abort(reason).catch(() => {});
		await this.outcome;
	}
}
