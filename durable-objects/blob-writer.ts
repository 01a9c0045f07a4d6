// Writing one R2 object from bytes that arrive in pieces, holding at most one part in memory: an
// object smaller than a part is one put at the end; a larger one is a multipart upload of parts of
// PART_BYTES (R2 wants every part but the last of one size, and at least 5 MiB). A writer that is
// aborted leaves nothing: the multipart upload is aborted, or the finished object deleted.

export const PART_BYTES = 5 * 1024 * 1024;

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
			if (this.filled > 0) await this.sendPart();
			await this.settle();
			const upload = this.upload;
			if (upload === null) throw new Error("no multipart upload to complete");
			await upload.complete(this.parts);
			this.written = upload.key;
			this.upload = null;
		}
		this.part = new Uint8Array(0);
		this.spare = null;
		return { key: this.written, size: this.total };
	}

	/** Leaves nothing behind; a failure to clean up is logged (the reindex sweeps finished objects). */
	async abort(): Promise<void> {
		this.closed = true;
		this.part = new Uint8Array(0);
		this.spare = null;
		try {
			await this.inFlight;
			if (this.upload !== null) await this.upload.abort();
			if (this.written !== null) await this.bucket.delete(this.written);
		} catch (error) {
			console.error("could not clean up an unfinished object; the next reindex sweeps it", this.key, error);
		}
	}

	/**
	 * Sends the filled part and goes on filling the other buffer while it travels: one part in
	 * flight at a time, so a writer holds at most two parts.
	 */
	private async sendPart(): Promise<void> {
		await this.settle();
		this.upload ??= await this.bucket.createMultipartUpload(this.options.key(), this.metadata());
		const upload = this.upload;
		const bytes = this.part.subarray(0, this.filled);
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
		const sent = this.part;
		this.part = this.spare ?? new Uint8Array(PART_BYTES);
		this.spare = sent;
		this.filled = 0;
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
		const grown = new Uint8Array(Math.min(PART_BYTES, Math.max(size, this.part.byteLength * 2, 64 * 1024)));
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
