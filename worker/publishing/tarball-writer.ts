import type { BlobWriter } from "../../durable-objects/blob-writer";
import { type TarballChecksums, TarballHasher } from "./checksums";

// A tarball on its way to R2: hashed as it is written, so its integrity is known the moment its
// last byte has passed, and checked before the object is finished.

export type StoredTarball = TarballChecksums & { key: string; size: number };

export class TarballWriter {
	private readonly hasher = new TarballHasher();
	private sums: TarballChecksums | null = null;

	constructor(private readonly writer: BlobWriter) {}

	get size(): number {
		return this.writer.size;
	}

	async write(bytes: Uint8Array): Promise<void> {
		if (bytes.byteLength === 0) return;
		await Promise.all([this.hasher.update(bytes), this.writer.write(bytes)]);
	}

	/** The checksums, once the last byte is written. */
	async checksums(): Promise<TarballChecksums> {
		this.sums ??= await this.hasher.digest();
		return this.sums;
	}

	/** Finishes the object (a small one is checked by R2 against its SHA-1 on arrival). */
	async close(): Promise<StoredTarball> {
		const sums = await this.checksums();
		const { key, size } = await this.writer.close({ sha1: sums.shasum });
		return { ...sums, key, size };
	}
}
