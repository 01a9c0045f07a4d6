import { createTarDecoder, packTar } from "modern-tar";
import { HttpError } from "../errors";

// Reading a package tarball (gzip + tar) with the platform's DecompressionStream and modern-tar's
// streaming decoder. Used by npm publish and by bundle uploads; both need the file list, the
// package.json and a guard against archives that inflate without bound.

export type TarballFile = { path: string; bytes: Uint8Array<ArrayBuffer> };

/**
 * `npm`: every entry sits under one top directory that is dropped (npm's `strip: 1`, usually `package/`).
 * `auto`: that directory is dropped only when every file shares it; otherwise files are at the root.
 */
export type TarballLayout = "npm" | "auto";

export type TarballContents = {
	/** Regular files, paths relative to the package root, in archive order, last duplicate wins. */
	files: TarballFile[];
	unpackedSize: number;
};

const badTarball = (message: string) => new HttpError("badTarball", message);

export async function readTarball(
	gzipped: Uint8Array<ArrayBuffer>,
	options: { layout: TarballLayout; maxUnpackedSize: number; maxEntries: number },
): Promise<TarballContents> {
	let inflated = 0;
	let tooLarge = false;
	const limit = new TransformStream<Uint8Array, Uint8Array>({
		transform(chunk, controller) {
			inflated += chunk.byteLength;
			if (inflated > options.maxUnpackedSize) {
				tooLarge = true;
				controller.error(new Error("unpacked size limit"));
				return;
			}
			controller.enqueue(chunk);
		},
	});
	const entries = new Blob([gzipped])
		.stream()
		.pipeThrough(new DecompressionStream("gzip"))
		.pipeThrough(limit)
		.pipeThrough(createTarDecoder({ strict: true }));

	const raw: { parts: string[]; bytes: Uint8Array<ArrayBuffer> }[] = [];
	let count = 0;
	try {
		for await (const entry of entries) {
			// Leaving the loop cancels the stream: nothing more is inflated once a limit is crossed.
			if (++count > options.maxEntries) {
				throw new HttpError("payloadTooLarge", `tarball has more than ${options.maxEntries} entries`);
			}
			const type = entry.header.type ?? "file";
			if (type !== "file") {
				await entry.body.cancel();
				continue;
			}
			const parts = safePathParts(entry.header.name);
			const bytes = new Uint8Array(await new Response(entry.body).arrayBuffer());
			if (parts.length > 0) raw.push({ parts, bytes });
		}
	} catch (error) {
		if (tooLarge) {
			throw new HttpError("payloadTooLarge", `tarball unpacks to more than ${options.maxUnpackedSize} bytes`);
		}
		if (error instanceof HttpError) throw error;
		throw badTarball("tarball is not a valid gzip-compressed tar archive");
	}
	if (raw.length === 0) throw badTarball("tarball contains no files");

	const strip = options.layout === "npm" || sharesOneTopDirectory(raw.map((f) => f.parts));
	const byPath = new Map<string, Uint8Array<ArrayBuffer>>();
	for (const { parts, bytes } of raw) {
		const kept = strip ? parts.slice(1) : parts;
		if (kept.length > 0) byPath.set(kept.join("/"), bytes);
	}
	const files = [...byPath].map(([path, bytes]) => ({ path, bytes }));
	return { files, unpackedSize: files.reduce((sum, f) => sum + f.bytes.byteLength, 0) };
}

/** Splits an archive path, refusing absolute paths and `..` so no entry escapes the package. */
function safePathParts(name: string): string[] {
	if (name.startsWith("/") || /^[a-zA-Z]:/.test(name)) throw badTarball(`unsafe path in tarball: ${name}`);
	const parts = name.split("/").filter((part) => part !== "" && part !== ".");
	if (parts.some((part) => part === ".." || part.includes("\\") || part.includes("\0"))) {
		throw badTarball(`unsafe path in tarball: ${name}`);
	}
	return parts;
}

function sharesOneTopDirectory(paths: string[][]): boolean {
	const top = paths[0]?.[0];
	return paths.every((parts) => parts.length > 1 && parts[0] === top);
}

/** Parses the package.json at the package root, or explains why it cannot. */
export function readPackageJson(contents: { files: TarballFile[] }): Record<string, unknown> {
	const manifest = findPackageJson(contents);
	if (manifest === null) throw badTarball("tarball has no package/package.json");
	return manifest;
}

/** The package.json at the package root when there is one (bundles may have none). */
export function findPackageJson(contents: { files: TarballFile[] }): Record<string, unknown> | null {
	const file = contents.files.find((f) => f.path === "package.json");
	if (!file) return null;
	let parsed: unknown;
	try {
		parsed = JSON.parse(new TextDecoder().decode(file.bytes));
	} catch {
		throw badTarball("package.json in the tarball is not valid JSON");
	}
	if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
		throw badTarball("package.json in the tarball is not a JSON object");
	}
	return parsed as Record<string, unknown>;
}

/**
 * The README npm would show: README.md first, then any root file named readme.*. At most `maxBytes`
 * of it go into the packument; the whole file stays in the tarball and under /files/.
 */
export function readReadme(contents: TarballContents, maxBytes: number): { readme: string; filename: string } | null {
	const candidates = contents.files.filter((f) => /^readme(\.[a-z]+)?$/i.test(f.path));
	const file = candidates.find((f) => /^readme\.md$/i.test(f.path)) ?? candidates[0];
	if (!file) return null;
	// A cut in the middle of a multi-byte character decodes to one replacement character: harmless.
	return { readme: new TextDecoder().decode(file.bytes.subarray(0, maxBytes)), filename: file.path };
}

/** Packs files the way `npm pack` lays them out (`package/…`), gzip-compressed. */
export async function packTarball(files: TarballFile[]): Promise<Uint8Array<ArrayBuffer>> {
	const tar = await packTar(
		files.map((file) => ({
			header: { name: `package/${file.path}`, size: file.bytes.byteLength, mode: 0o644, mtime: new Date(0) },
			body: file.bytes,
		})),
	);
	const gzipped = new Blob([tar]).stream().pipeThrough(new CompressionStream("gzip"));
	return new Uint8Array(await new Response(gzipped).arrayBuffer());
}
