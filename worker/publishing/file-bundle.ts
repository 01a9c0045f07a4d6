import { digest } from "../../schema/hashing";
import type { BundledFile } from "../../schema/package/contract";
import { sriSha384 } from "./checksums";
import type { TarballFile } from "./tarball";

// A version's files, laid end to end in one R2 object, with an index of where each one starts.
// Serving a file is then one ranged R2 read at a known offset, without unpacking every file into
// its own object at publish time and without inflating the tarball per request.

export type FileBundle = { bytes: Uint8Array<ArrayBuffer>; index: BundledFile[] };

export async function bundleFiles(files: TarballFile[]): Promise<FileBundle> {
	const total = files.reduce((sum, f) => sum + f.bytes.byteLength, 0);
	const bytes = new Uint8Array(total);
	const hashes = await Promise.all(files.map((f) => digest("SHA-256", f.bytes)));
	const index: BundledFile[] = [];
	let offset = 0;
	files.forEach((file, i) => {
		bytes.set(file.bytes, offset);
		index.push({ path: file.path, offset, size: file.bytes.byteLength, sha256: hashes[i]?.toHex() ?? "" });
		offset += file.bytes.byteLength;
	});
	return { bytes, index };
}

/**
 * The file a web page imports first: `index.js` at the root, else the package.json `module`,
 * `browser` or `main` file, when it exists in the bundle.
 */
export function entryPath(files: TarballFile[], manifest: Record<string, unknown>): string | null {
	const present = new Set(files.map((f) => f.path));
	const candidates = ["index.js", manifest.module, manifest.browser, manifest.main]
		.filter((c): c is string => typeof c === "string")
		.map((c) => c.replace(/^\.\//, ""));
	return candidates.find((c) => present.has(c)) ?? null;
}

export async function entryIntegrity(files: TarballFile[], path: string | null): Promise<string | null> {
	const file = path === null ? undefined : files.find((f) => f.path === path);
	return file ? sriSha384(file.bytes) : null;
}
