import { createTarPacker, packTar } from "modern-tar";

// Builds real gzip tarballs inside workerd, the way `npm pack` lays them out (`package/…`), with
// npm's fixed mtime: the same files always give the same bytes, so a test may build a body twice.
const NPM_PACK_MTIME = new Date("1985-10-26T08:15:00.000Z");

export type Files = Record<string, string | Uint8Array>;

export async function gzipTar(files: Files, root: string | null = "package"): Promise<Uint8Array<ArrayBuffer>> {
	const tar = await packTar(
		Object.entries(files).map(([path, body]) => {
			const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
			return {
				header: { name: root ? `${root}/${path}` : path, size: bytes.byteLength, mtime: NPM_PACK_MTIME },
				body: bytes,
			};
		}),
	);
	const gz = new Blob([tar]).stream().pipeThrough(new CompressionStream("gzip"));
	return new Uint8Array(await new Response(gz).arrayBuffer());
}

export async function checksums(bytes: Uint8Array<ArrayBuffer>): Promise<{ integrity: string; shasum: string }> {
	const [sha512, sha1] = await Promise.all([
		crypto.subtle.digest("SHA-512", bytes),
		crypto.subtle.digest("SHA-1", bytes),
	]);
	return { integrity: `sha512-${new Uint8Array(sha512).toBase64()}`, shasum: new Uint8Array(sha1).toHex() };
}

/**
 * A gzip tarball with one file of `size` zero bytes, streamed through the compressor so that it is
 * never held whole: a few hundred kilobytes that inflate to hundreds of megabytes.
 */
export async function gzipBomb(packageJson: string, size: number): Promise<Uint8Array<ArrayBuffer>> {
	const { readable, controller } = createTarPacker();
	const gz = new Response(readable.pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
	const write = async (name: string, chunks: Iterable<Uint8Array>, length: number) => {
		const writer = controller.add({ name, size: length }).getWriter();
		for (const chunk of chunks) await writer.write(chunk);
		await writer.close();
	};
	const json = new TextEncoder().encode(packageJson);
	await write("package/package.json", [json], json.byteLength);
	const chunk = new Uint8Array(1024 * 1024);
	await write(
		"package/zeros.bin",
		Array.from({ length: Math.ceil(size / chunk.byteLength) }, () => chunk),
		size,
	);
	controller.finalize();
	return new Uint8Array(await gz);
}
