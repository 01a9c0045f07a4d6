import { LIMITS } from "../../schema/limits";
import { BlobWriter } from "../blob-writer";

// Small helpers of the upstream mirror (upstream.ts) for what crosses the network: lengths,
// origins to name in messages, a wait bounded in time, and the checked bytes written to R2.

export function contentLength(headers: Headers): number | null {
	const raw = headers.get("content-length");
	if (raw === null || !/^\d+$/.test(raw)) return null;
	return Number(raw);
}

export function originOf(url: string): string {
	try {
		return new URL(url).origin;
	} catch {
		return "an invalid URL";
	}
}

/** The promise's result, or `late()` when it has not settled within `ms`. */
export async function settledWithin<T>(promise: Promise<T>, ms: number, late: () => T): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const deadline = new Promise<T>((resolve) => {
		timer = setTimeout(() => resolve(late()), ms);
	});
	try {
		return await Promise.race([promise, deadline]);
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
}

/**
 * Writes the checked bytes to R2 as they arrive (holding one part at most: a small tarball is one
 * put once its digest matched, a large one a multipart upload completed then); answers their
 * size. Bytes that fail (a mismatch, upstream stalling, a body longer or shorter than announced)
 * leave nothing, locally or on Cloudflare: the upload is aborted, never a streaming put cut short.
 */
export async function storeCheckedBytes(
	blobs: R2Bucket,
	key: string,
	bytes: ReadableStream<Uint8Array>,
	size: number | null,
	integrity: string,
): Promise<number> {
	const writer = new BlobWriter(blobs, {
		key: () => key,
		httpMetadata: { contentType: "application/octet-stream" },
		customMetadata: { integrity, startedAt: new Date().toISOString() },
	});
	const limit = size ?? LIMITS.upstreamUnsizedTarballBytes;
	try {
		for await (const chunk of bytes) {
			if (writer.size + chunk.byteLength > limit) {
				throw new Error(
					size === null ? `larger than ${limit} bytes without a Content-Length` : "longer than its Content-Length",
				);
			}
			await writer.write(chunk);
		}
		if (writer.size !== limit && size !== null) throw new Error(`${writer.size} of the ${size} bytes announced`);
		return (await writer.close()).size;
	} catch (error) {
		await writer.abort();
		throw error;
	}
}
