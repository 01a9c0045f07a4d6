import { env } from "cloudflare:test";
import type { BundledFile } from "../../schema/package/contract";
import { PublishAttempt } from "../../worker/publishing/attempt";
import { type FileBundle, FileBundleWriter } from "../../worker/publishing/file-bundle";
import { readTarballFiles, type TarballLayout } from "../../worker/publishing/tarball";
import { uniqueName } from "./registry";

// The streaming tarball reader and file bundle (worker/publishing/) driven against the real R2
// binding: what a publish stores, read back byte for byte.

export type FileBytes = { path: string; bytes: Uint8Array };

/** Every byte of a stream. */
export async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array<ArrayBuffer>> {
	return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** One file of a finished bundle, read back from R2. */
export async function fileBytes(bundle: FileBundle, file: BundledFile): Promise<Uint8Array<ArrayBuffer>> {
	if (file.size === 0) return new Uint8Array();
	const object = await env.BLOBS.get(bundle.key, { range: { offset: file.offset, length: file.size } });
	if (!object) throw new Error(`no bundle at ${bundle.key}`);
	return new Uint8Array(await object.arrayBuffer());
}

/** The whole bundle object. */
export async function bundleBytes(bundle: FileBundle): Promise<Uint8Array<ArrayBuffer>> {
	const object = await env.BLOBS.get(bundle.key);
	if (!object) throw new Error(`no bundle at ${bundle.key}`);
	return new Uint8Array(await object.arrayBuffer());
}

/**
 * Reads a gzip tarball the way a publish does, into a bundle in R2; `inspect` sees the writer and
 * the finished bundle, and everything is deleted afterwards.
 */
export async function unpacked<T>(
	archive: Uint8Array<ArrayBuffer>,
	options: { layout: TarballLayout; maxUnpackedSize: number; maxEntries?: number },
	inspect: (writer: FileBundleWriter, bundle: FileBundle) => Promise<T>,
): Promise<T> {
	const attempt = new PublishAttempt(env, uniqueName("bundle"));
	try {
		const writer = new FileBundleWriter(attempt.bundle(() => "1.0.0"));
		await readTarballFiles(
			new Blob([archive]).stream(),
			{ maxUnpackedSize: options.maxUnpackedSize, maxEntries: options.maxEntries ?? 1_000 },
			(file) => writer.add(file),
		);
		return await inspect(writer, await writer.close(options.layout));
	} finally {
		await attempt.forget();
	}
}

/** A bundle of these files, in this order, written to R2 as a publish writes one. */
export async function bundled<T>(files: FileBytes[], inspect: (bundle: FileBundle) => Promise<T>): Promise<T> {
	const attempt = new PublishAttempt(env, uniqueName("bundle"));
	try {
		const writer = new FileBundleWriter(attempt.bundle(() => "1.0.0"));
		for (const file of files) {
			await writer.add({
				parts: ["package", ...file.path.split("/")],
				size: file.bytes.byteLength,
				body: new Blob([file.bytes as Uint8Array<ArrayBuffer>]).stream(),
			});
		}
		return await inspect(await writer.close("npm"));
	} finally {
		await attempt.forget();
	}
}
