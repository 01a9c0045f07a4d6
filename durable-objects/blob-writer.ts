// Writing one R2 object from bytes that arrive in pieces, holding at most one part in memory: an
// object smaller than a part is one put at the end; a larger one is a multipart upload of parts of
// PART_BYTES (R2 wants every part but the last of one size, and at least 5 MiB). A writer that is
// aborted leaves nothing: the multipart upload is aborted, or the finished object deleted.
//
// Memory (#22.4): every writer of the isolate counts its part buffers in one budget. A writer
// always has its one part (so it can go on); a second buffer, which lets the next part fill while
// the last travels, only while the isolate holds less than PART_BUDGET_BYTES. Beyond it writers
// send one part at a time, and new large publishes are turned away (`partBudgetExhausted`, 503).
// A writer done with its buffers hands them to the next one (the pool below) instead of dropping them.

export const PART_BYTES = 5 * 1024 * 1024;

/**
 * Part buffers the isolate's writers may hold before they stop overlapping uploads: 6 parts, the
 * two of each of the three large publishes an isolate takes at once (worker/publishing/admission.ts).
 */
export const PART_BUDGET_BYTES = 6 * PART_BYTES;

/** Bytes of part buffers held by every writer in this isolate. */
let heldBytes = 0;

/**
 * Whole part buffers no writer holds now, for the next writer to fill. A dropped 5 MiB buffer stays
 * until V8's next full collection, which comes late for memory outside the heap: a large publish
 * used to drop up to four of them, and the smaller ones its parts grew through. The pool keeps only
 * what fits in the budget beside the writers' buffers, and is emptied when no writer is left (an
 * idle isolate keeps nothing).
 */
const pool: Uint8Array[] = [];

/** A whole part buffer: a pooled one, else a new one. */
function wholePart(): Uint8Array {
	return pool.pop() ?? new Uint8Array(PART_BYTES);
}

/** Keeps a writer's whole buffers for the next writer while one is at work and the budget has room; drops the rest. */
function giveBack(buffers: Uint8Array[]): void {
	for (const buffer of buffers) {
		if (heldBytes === 0 || buffer.byteLength !== PART_BYTES) continue;
		if (heldBytes + (pool.length + 1) * PART_BYTES <= PART_BUDGET_BYTES) pool.push(buffer);
	}
	if (heldBytes === 0) pool.length = 0;
}

/** Whether the isolate's writers hold their whole budget (a new publish should wait). */
export function partBudgetExhausted(): boolean {
	return heldBytes >= PART_BUDGET_BYTES;
}

/** The part buffers held in this isolate now, in bytes (for the bench and tests). */
export function partBytesHeld(): number {
	return heldBytes;
}

/** The part buffers kept for the next writer, in bytes (for tests). */
export function partBytesPooled(): number {
	return pool.length * PART_BYTES;
}

export type BlobWriterOptions = {
	/** The key, asked for when the object is first written (a publish may learn its version late). */
	key: () => string;
	httpMetadata?: R2HTTPMetadata;
	customMetadata?: Record<string, string>;
};

export class BlobWriter {
	/** The part being filled; it grows to PART_BYTES, so a small object never costs a whole part. */
	private part: Uint8Array = new Uint8Array(0);
	private filled = 0;
	/** The buffer of the part on its way to R2, reused once it has arrived. */
	private spare: Uint8Array | null = null;
	private inFlight: Promise<void> | null = null;
	private failure: { error: unknown } | null = null;
	private upload: R2MultipartUpload | null = null;
	private readonly parts: R2UploadedPart[] = [];
	private written: string | null = null;
	private closed = false;
	private total = 0;
	/** This writer's share of `heldBytes`. */
	private held = 0;

	constructor(
		private readonly bucket: R2Bucket,
		private readonly options: BlobWriterOptions,
	) {}

	/** Bytes written so far. */
	get size(): number {
		return this.total;
	}

	/** The key once the object (or its upload) exists; null before. */
	get key(): string | null {
		return this.written ?? this.upload?.key ?? null;
	}

	async write(chunk: Uint8Array): Promise<void> {
		if (this.closed) throw new Error("write after close");
		this.total += chunk.byteLength;
		let at = 0;
		while (at < chunk.byteLength) {
			const n = Math.min(chunk.byteLength - at, PART_BYTES - this.filled);
			this.reserve(this.filled + n);
			this.part.set(n === chunk.byteLength ? chunk : chunk.subarray(at, at + n), this.filled);
			this.filled += n;
			at += n;
			if (this.filled === PART_BYTES) await this.sendPart();
		}
	}

	/** Finishes the object; `sha1` (hex) lets R2 check a small object's bytes on arrival. */
	async close(checks: { sha1?: string } = {}): Promise<{ key: string; size: number }> {
		this.closed = true;
		if (this.upload === null) {
			const key = this.options.key();
			await this.bucket.put(key, this.part.subarray(0, this.filled), {
				...this.metadata(),
				...(checks.sha1 ? { sha1: checks.sha1 } : {}),
			});
			this.written = key;
		} else {
			if (this.filled > 0) await this.sendPart({ last: true });
			await this.settle();
			const upload = this.upload;
			if (upload === null) throw new Error("no multipart upload to complete");
			await upload.complete(this.parts);
			this.written = upload.key;
			this.upload = null;
		}
		giveBack(this.release());
		return { key: this.written, size: this.total };
	}

	/** Leaves nothing behind; a failure to clean up is logged (the reindex sweeps finished objects). */
	async abort(): Promise<void> {
		this.closed = true;
		// The budget is given back at once, whatever comes of the cleanup.
		const buffers = this.release();
		try {
			// The part in flight is still being read from its buffer: the buffers are reused only once it has arrived.
			await this.inFlight;
			giveBack(buffers);
			if (this.upload !== null) await this.upload.abort();
			if (this.written !== null) await this.bucket.delete(this.written);
		} catch (error) {
			console.error("could not clean up an unfinished object; the next reindex sweeps it", this.key, error);
		}
	}

	/**
	 * Sends the filled part and goes on filling the other buffer while it travels: one part in
	 * flight at a time, so a writer holds at most two parts. Without room in the isolate's budget
	 * for a second buffer, it waits for the part to arrive and fills the same buffer again. After
	 * the last part nothing more is filled: no buffer is taken for it.
	 */
	private async sendPart({ last = false } = {}): Promise<void> {
		await this.settle();
		this.upload ??= await this.bucket.createMultipartUpload(this.options.key(), this.metadata());
		const upload = this.upload;
		const sent = this.part;
		const bytes = sent.subarray(0, this.filled);
		const number = this.parts.length + 1;
		this.inFlight = upload.uploadPart(number, bytes).then(
			(part) => {
				this.parts[number - 1] = part;
			},
			(error: unknown) => {
				this.failure = { error };
			},
		);
		this.parts.length = number;
		this.filled = 0;
		if (last) return;
		if (this.spare === null && heldBytes + PART_BYTES > PART_BUDGET_BYTES) {
			await this.settle();
			return;
		}
		if (this.spare === null) this.take(PART_BYTES);
		this.part = this.spare ?? wholePart();
		this.spare = sent;
	}

	private take(bytes: number): void {
		this.held += bytes;
		heldBytes += bytes;
	}

	/** Gives the writer's share of the budget back; answers its buffers (for `giveBack` once none is in flight). */
	private release(): Uint8Array[] {
		heldBytes -= this.held;
		this.held = 0;
		const buffers = this.spare === null ? [this.part] : [this.part, this.spare];
		this.part = new Uint8Array(0);
		this.spare = null;
		return buffers;
	}

	/** Waits for the part in flight; its failure is this writer's. */
	private async settle(): Promise<void> {
		await this.inFlight;
		this.inFlight = null;
		if (this.failure) throw this.failure.error;
	}

	/** Room for `size` bytes in the part being filled. */
	private reserve(size: number): void {
		if (size <= this.part.byteLength) return;
		// Growing fourfold leaves fewer buffers behind than doubling; past a quarter part, a whole one.
		const capacity = Math.max(size, this.part.byteLength * 4, 64 * 1024);
		const grown = capacity >= PART_BYTES / 4 ? wholePart() : new Uint8Array(capacity);
		this.take(grown.byteLength - this.part.byteLength);
		grown.set(this.part.subarray(0, this.filled));
		this.part = grown;
	}

	private metadata(): R2PutOptions & R2MultipartOptions {
		return {
			...(this.options.httpMetadata ? { httpMetadata: this.options.httpMetadata } : {}),
			...(this.options.customMetadata ? { customMetadata: this.options.customMetadata } : {}),
		};
	}
}
