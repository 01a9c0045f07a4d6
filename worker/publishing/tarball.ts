import { createTarDecoder, createTarPacker } from "modern-tar";
import { LIMITS } from "../../schema/limits";
import { HttpError } from "../errors";
import { refused } from "../refusals";

// Reading and writing package tarballs (gzip + tar) as streams, with the platform's
// DecompressionStream/CompressionStream and modern-tar's streaming decoder and packer. Used by npm
// publish and by bundle uploads: one pass over the archive hands each file's bytes on as they are
// inflated, guarded against archives that inflate without bound; no file is ever held whole.

/**
 * `npm`: every entry sits under one top directory that is dropped (npm's `strip: 1`, usually `package/`).
 * `auto`: that directory is dropped only when every file shares it; otherwise files are at the root.
 */
export type TarballLayout = "npm" | "auto";

/** A regular file as the archive has it: its path split into safe parts (not yet stripped), its bytes. */
export type ArchivedFile = { parts: string[]; size: number; body: ReadableStream<Uint8Array> };

export type TarballReadOptions = {
	maxUnpackedSize: number;
	maxEntries: number;
	/** Why the compressed stream itself failed, when its source knows better (a body over its limit). */
	sourceError?: () => HttpError | null;
};

const GATHER_BYTES = 64 * 1024;
const ENTRIES_BETWEEN_YIELDS = 256;
const BYTES_BETWEEN_YIELDS = 4 * 1024 * 1024;
const COMPRESSED_SLICE_BYTES = 64 * 1024;

/**
 * Hands every regular file of a gzip tarball to `onFile`, in archive order, which must read or
 * cancel its body. Refuses unsafe paths, more than `maxEntries` entries, more than
 * `maxUnpackedSize` inflated bytes or an inflation past LIMITS.inflationRatio (as soon as crossed:
 * nothing more is inflated) and archives without files.
 */
export async function readTarballFiles(
	gzipped: ReadableStream<Uint8Array>,
	options: TarballReadOptions,
	onFile: (file: ArchivedFile) => Promise<void>,
): Promise<void> {
	let compressed = 0;
	let inflated = 0;
	let tooLarge: HttpError | null = null;
	// The compressed bytes go to the decompressor in small slices, pulled only as it takes them, so
	// `compressed` counts what it has consumed, not a whole body that arrived ahead of it.
	const source = gzipped.getReader();
	let pending: Uint8Array = new Uint8Array(0);
	const counted = new ReadableStream<Uint8Array>(
		{
			async pull(controller) {
				while (pending.byteLength === 0) {
					const { done, value } = await source.read();
					if (done) {
						controller.close();
						return;
					}
					pending = value;
				}
				const slice = pending.subarray(0, COMPRESSED_SLICE_BYTES);
				pending = pending.subarray(slice.byteLength);
				compressed += slice.byteLength;
				controller.enqueue(slice);
			},
			cancel: (reason) => source.cancel(reason),
		},
		{ highWaterMark: 0 },
	);
	// DecompressionStream hands out 4 KB pieces; every step after it (the limit, the tar decoder, the
	// consumer's hashing and storing) costs per piece, so they are gathered into 64 KB ones first.
	let gathered = new Uint8Array(GATHER_BYTES);
	let filled = 0;
	const limit = new TransformStream<Uint8Array, Uint8Array>({
		transform(chunk, controller) {
			const before = inflated;
			inflated += chunk.byteLength;
			if (inflated > options.maxUnpackedSize) {
				tooLarge = refused.unpackedTooLarge(options.maxUnpackedSize);
			} else if (inflated > LIMITS.inflationGraceBytes && inflated > LIMITS.inflationRatio * compressed) {
				tooLarge = refused.inflatesTooFar();
			}
			if (tooLarge !== null) {
				controller.error(new Error(tooLarge.message));
				return;
			}
			for (let at = 0; at < chunk.byteLength; ) {
				const n = Math.min(chunk.byteLength - at, GATHER_BYTES - filled);
				gathered.set(chunk.subarray(at, at + n), filled);
				filled += n;
				at += n;
				if (filled === GATHER_BYTES) {
					controller.enqueue(gathered);
					gathered = new Uint8Array(GATHER_BYTES);
					filled = 0;
				}
			}
			// Inflating well-compressed bytes needs no I/O: yield now and then (see entries below).
			if (Math.floor(before / BYTES_BETWEEN_YIELDS) !== Math.floor(inflated / BYTES_BETWEEN_YIELDS)) {
				return new Promise((resolve) => setTimeout(resolve, 0));
			}
		},
		flush(controller) {
			if (filled > 0) controller.enqueue(gathered.subarray(0, filled));
		},
	});
	const entries = counted
		.pipeThrough(new DecompressionStream("gzip"))
		.pipeThrough(limit)
		.pipeThrough(createTarDecoder({ strict: true }));
	let count = 0;
	let files = 0;
	// An error of the consumer (storing the bytes) is its own, never "not a tarball"; but a file's
	// body that fails to read is the archive's fault, even when the consumer is the one reading.
	let consumerError = null as { error: unknown } | null;
	let archiveFailed = false;
	try {
		for await (const entry of entries) {
			// Leaving the loop cancels the stream: nothing more is inflated once a limit is crossed.
			if (++count > options.maxEntries) {
				throw refused.tooManyEntries(options.maxEntries);
			}
			// Small entries resolve without I/O: yield now and then, so that an archive of thousands of
			// them does not keep this isolate's other requests waiting until it is done.
			if (count % ENTRIES_BETWEEN_YIELDS === 0) await new Promise((resolve) => setTimeout(resolve, 0));
			const type = entry.header.type ?? "file";
			const parts = type === "file" ? safePathParts(entry.header.name) : [];
			if (parts.length === 0) {
				await entry.body.cancel();
				continue;
			}
			files += 1;
			const reader = entry.body.getReader();
			const body = new ReadableStream<Uint8Array>({
				async pull(controller) {
					try {
						const { done, value } = await reader.read();
						if (done) controller.close();
						else controller.enqueue(value);
					} catch (error) {
						archiveFailed = true;
						controller.error(error);
					}
				},
				cancel: (reason) => reader.cancel(reason),
			});
			try {
				await onFile({ parts, size: entry.header.size, body });
			} catch (error) {
				consumerError = { error };
				throw error;
			}
		}
	} catch (error) {
		const fromSource = options.sourceError?.();
		if (fromSource) throw fromSource;
		if (tooLarge !== null) throw tooLarge;
		if (consumerError && !archiveFailed) throw consumerError.error;
		if (error instanceof HttpError) throw error;
		throw refused.notGzipTar();
	}
	if (files === 0) throw refused.emptyTarball();
}

/** Splits an archive path, refusing absolute paths and `..` so no entry escapes the package. */
function safePathParts(name: string): string[] {
	if (name.startsWith("/") || /^[a-zA-Z]:/.test(name)) throw refused.unsafePath(name);
	const parts = name.split("/").filter((part) => part !== "" && part !== ".");
	if (parts.some((part) => part === ".." || part.includes("\\") || part.includes("\0"))) {
		throw refused.unsafePath(name);
	}
	return parts;
}

/** Whether the top directory goes: always for npm, for auto only when every file shares one. */
export function stripsTopDirectory(layout: TarballLayout, paths: string[][]): boolean {
	if (layout === "npm") return true;
	const top = paths[0]?.[0];
	return paths.every((parts) => parts.length > 1 && parts[0] === top);
}

/** Parses the bytes of a root package.json (null: there is none), or explains why it cannot. */
export function parsePackageJson(bytes: Uint8Array | null): Record<string, unknown> | null {
	if (bytes === null) return null;
	let parsed: unknown;
	try {
		parsed = JSON.parse(new TextDecoder().decode(bytes));
	} catch {
		throw refused.packageJsonNotJson();
	}
	if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
		throw refused.packageJsonNotObject();
	}
	return parsed as Record<string, unknown>;
}

/** npm publish needs one. */
export function requirePackageJson(packageJson: Record<string, unknown> | null): Record<string, unknown> {
	if (packageJson === null) throw refused.noPackageJson();
	return packageJson;
}

export const packageJsonTooLarge = () => refused.packageJsonTooLarge();

/**
 * The README npm would show: README.md first, then any root file named readme.* (the first in
 * the package's order). Only its first bytes go into the packument (see readme in file-bundle.ts).
 */
export function chooseReadme(paths: string[]): string | null {
	const candidates = paths.filter((path) => /^readme(\.[a-z]+)?$/i.test(path));
	return candidates.find((path) => /^readme\.md$/i.test(path)) ?? candidates[0] ?? null;
}

/** A file to pack: its bytes in memory, or a stream of exactly `size` bytes. */
export type PackedFile = { path: string; size: number; body: Uint8Array | ReadableStream<Uint8Array> };

/** Packs files the way `npm pack` lays them out (`package/…`), gzip-compressed, as they are read. */
export function packTarball(files: AsyncIterable<PackedFile> | Iterable<PackedFile>): ReadableStream<Uint8Array> {
	const { readable, controller } = createTarPacker();
	const pack = async () => {
		for await (const file of files) {
			const body = controller.add({ name: `package/${file.path}`, size: file.size, mode: 0o644, mtime: new Date(0) });
			if (file.body instanceof Uint8Array) {
				const writer = body.getWriter();
				await writer.write(file.body);
				await writer.close();
			} else {
				await file.body.pipeTo(body);
			}
		}
		controller.finalize();
	};
	pack().catch((error: unknown) => controller.error(error));
	return readable.pipeThrough(new CompressionStream("gzip"));
}
