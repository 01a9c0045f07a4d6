import type { BlobWriter } from "../../durable-objects/blob-writer";
import { concatBytes } from "../../schema/bytes";
import { LIMITS } from "../../schema/limits";
import type { BundledFile } from "../../schema/package/contract";
import { sriSha384 } from "./checksums";
import {
	type ArchivedFile,
	chooseReadme,
	packageJsonTooLarge,
	parsePackageJson,
	stripsTopDirectory,
	type TarballLayout,
} from "./tarball";

// A version's files, laid end to end in one R2 object, with an index of where each one starts.
// Serving a file is then one ranged R2 read at a known offset, without unpacking every file into
// its own object at publish time and without inflating the tarball per request.
//
// The bundle is written as the tarball is read: each file's bytes go to R2 as they are inflated,
// hashed on the way; what stays in memory is the index (a path, offset, size and hash per file)
// and the package.json. The README and the entry file's hash are read back from R2 once the
// bundle is finished.

/** The finished bundle: where it is and what it holds. */
export type FileBundle = { key: string; index: BundledFile[]; unpackedSize: number };

type ArchivedEntry = { parts: string[]; offset: number; size: number; sha256: string };
type CapturedJson = { entry: ArchivedEntry; bytes: Uint8Array | null };

export class FileBundleWriter {
	private readonly archived: ArchivedEntry[] = [];
	/** Files the registry adds after the archive's (an upload's generated package.json), by final path. */
	private readonly added: BundledFile[] = [];
	private offset = 0;
	/** The last `package.json` at the archive's root, and the last one directly under a top directory. */
	private atRoot: CapturedJson | null = null;
	private underTop: CapturedJson | null = null;

	constructor(private readonly writer: BlobWriter) {}

	/** Appends one file of the archive as it is read (see readTarballFiles). */
	async add(file: ArchivedFile): Promise<void> {
		const isPackageJson = file.parts.at(-1) === "package.json" && file.parts.length <= 2;
		const captured: Uint8Array[] = [];
		let capturedBytes = 0;
		const sha256 = new crypto.DigestStream("SHA-256");
		const hashing = sha256.getWriter();
		let size = 0;
		for await (const chunk of file.body) {
			size += chunk.byteLength;
			if (isPackageJson && capturedBytes <= LIMITS.packageJsonBytes) {
				captured.push(chunk);
				capturedBytes += chunk.byteLength;
			}
			await Promise.all([hashing.write(chunk), this.writer.write(chunk)]);
		}
		await hashing.close();
		const entry = { parts: file.parts, offset: this.offset, size, sha256: new Uint8Array(await sha256.digest).toHex() };
		this.archived.push(entry);
		this.offset += size;
		if (isPackageJson) {
			const json = {
				entry,
				bytes: capturedBytes <= LIMITS.packageJsonBytes ? concatBytes(captured, capturedBytes) : null,
			};
			if (file.parts.length === 1) this.atRoot = json;
			else this.underTop = json;
		}
	}

	/**
	 * The paths of the archive's files as the package will have them: the top directory dropped or
	 * not, the last of duplicate paths winning in the first one's place.
	 */
	paths(layout: TarballLayout): string[] {
		return [...this.resolve(layout).keys()];
	}

	/** The archive's root package.json, parsed; null when it has none. */
	packageJson(layout: TarballLayout): Record<string, unknown> | null {
		const winner = this.resolve(layout).get("package.json");
		const json = [this.atRoot, this.underTop].find((c) => c !== null && c.entry === winner) ?? null;
		if (json && json.bytes === null) throw packageJsonTooLarge();
		return parsePackageJson(json?.bytes ?? null);
	}

	/** Adds a file of the registry's own after the archive's; it takes the place of the archive's file of that path. */
	async append(path: string, bytes: Uint8Array): Promise<void> {
		await this.writer.write(bytes);
		const sha256 = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();
		this.added.push({ path, offset: this.offset, size: bytes.byteLength, sha256 });
		this.offset += bytes.byteLength;
	}

	/** Finishes the object: the index lists the added files first, then the archive's. */
	async close(layout: TarballLayout): Promise<FileBundle> {
		const { key } = await this.writer.close();
		const added = new Set(this.added.map((f) => f.path));
		const index = [
			...this.added,
			...[...this.resolve(layout)]
				.filter(([path]) => !added.has(path))
				.map(([path, { offset, size, sha256 }]) => ({ path, offset, size, sha256 })),
		];
		return { key, index, unpackedSize: index.reduce((sum, f) => sum + f.size, 0) };
	}

	private resolve(layout: TarballLayout): Map<string, ArchivedEntry> {
		const strip = stripsTopDirectory(
			layout,
			this.archived.map((f) => f.parts),
		);
		const byPath = new Map<string, ArchivedEntry>();
		for (const entry of this.archived) {
			const kept = strip ? entry.parts.slice(1) : entry.parts;
			// Map.set keeps a path's first position and takes the last bytes.
			if (kept.length > 0) byPath.set(kept.join("/"), entry);
		}
		return byPath;
	}
}

/** One file's bytes, read back from the bundle (at most `limit` of them). */
async function readFile(env: Env, bundle: FileBundle, file: BundledFile, limit = file.size) {
	const length = Math.min(file.size, limit);
	if (length === 0) return new Blob([]).stream();
	const object = await env.BLOBS.get(bundle.key, { range: { offset: file.offset, length } });
	if (!object) throw new Error(`the bundle ${bundle.key} is missing`);
	return object.body;
}

/**
 * The file a web page imports first: `index.js` at the root, else the package.json `module`,
 * `browser` or `main` file, when it exists in the bundle.
 */
export function entryPath(files: { path: string }[], manifest: Record<string, unknown>): string | null {
	const present = new Set(files.map((f) => f.path));
	const candidates = ["index.js", manifest.module, manifest.browser, manifest.main]
		.filter((c): c is string => typeof c === "string")
		.map((c) => c.replace(/^\.\//, ""));
	return candidates.find((c) => present.has(c)) ?? null;
}

/** The entry file's SHA-384 as SRI, read back from the bundle. */
export async function entryIntegrity(env: Env, bundle: FileBundle, path: string | null): Promise<string | null> {
	const file = path === null ? undefined : bundle.index.find((f) => f.path === path);
	return file ? sriSha384(await readFile(env, bundle, file)) : null;
}

/** The README for the packument: its first `maxBytes` (the whole file stays in the bundle and under /files/). */
export async function readReadme(
	env: Env,
	bundle: FileBundle,
	maxBytes: number,
): Promise<{ readme: string; filename: string } | null> {
	const filename = chooseReadme(bundle.index.map((f) => f.path));
	const file = bundle.index.find((f) => f.path === filename);
	if (!file) return null;
	const bytes = await new Response(await readFile(env, bundle, file, maxBytes)).arrayBuffer();
	// A cut in the middle of a multi-byte character decodes to one replacement character: harmless.
	return { readme: new TextDecoder().decode(bytes), filename: file.path };
}
