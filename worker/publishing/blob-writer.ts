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
	private pending: Uint8Array[] = [];
	private pendingBytes = 0;
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
		if (chunk.byteLength === 0) return;
		this.pending.push(chunk);
		this.pendingBytes += chunk.byteLength;
		this.total += chunk.byteLength;
		while (this.pendingBytes >= PART_BYTES) await this.uploadPart(this.take(PART_BYTES));
	}

	/** Finishes the object; `sha1` (hex) lets R2 check a small object's bytes on arrival. */
	async close(checks: { sha1?: string } = {}): Promise<{ key: string; size: number }> {
		this.closed = true;
		const rest = this.take(this.pendingBytes);
		if (this.upload === null) {
			const key = this.options.key();
			await this.bucket.put(key, rest, {
				...(this.options.httpMetadata ? { httpMetadata: this.options.httpMetadata } : {}),
				...(this.options.customMetadata ? { customMetadata: this.options.customMetadata } : {}),
				...(checks.sha1 ? { sha1: checks.sha1 } : {}),
			});
			this.written = key;
		} else {
			if (rest.byteLength > 0) await this.uploadPart(rest);
			await this.upload.complete(this.parts);
			this.written = this.upload.key;
			this.upload = null;
		}
		return { key: this.written, size: this.total };
	}

	/** Leaves nothing behind; a failure to clean up is logged (the reindex sweeps finished objects). */
	async abort(): Promise<void> {
		this.closed = true;
		this.pending = [];
		this.pendingBytes = 0;
		try {
			if (this.upload !== null) await this.upload.abort();
			if (this.written !== null) await this.bucket.delete(this.written);
		} catch (error) {
			console.error("could not clean up an unfinished object; the next reindex sweeps it", this.key, error);
		}
	}

	private async uploadPart(bytes: Uint8Array): Promise<void> {
		this.upload ??= await this.bucket.createMultipartUpload(this.options.key(), {
			...(this.options.httpMetadata ? { httpMetadata: this.options.httpMetadata } : {}),
			...(this.options.customMetadata ? { customMetadata: this.options.customMetadata } : {}),
		});
		this.parts.push(await this.upload.uploadPart(this.parts.length + 1, bytes));
	}

	/** The first `length` pending bytes as one array. */
	private take(length: number): Uint8Array {
		const out = new Uint8Array(length);
		let filled = 0;
		let used = 0;
		while (filled < length) {
			const chunk = this.pending[used];
			if (!chunk) break;
			const n = Math.min(chunk.byteLength, length - filled);
			out.set(n === chunk.byteLength ? chunk : chunk.subarray(0, n), filled);
			filled += n;
			if (n === chunk.byteLength) used += 1;
			else this.pending[used] = chunk.subarray(n);
		}
		// One splice per part, not one shift per chunk: a part can gather thousands of small chunks.
		this.pending.splice(0, used);
		this.pendingBytes -= length;
		return out;
	}
}
