import { packTar } from "modern-tar";

// Builds real gzip tarballs inside workerd, the way `npm pack` lays them out (`package/…`).

export type Files = Record<string, string | Uint8Array>;

export async function gzipTar(files: Files, root: string | null = "package"): Promise<Uint8Array<ArrayBuffer>> {
	const tar = await packTar(
		Object.entries(files).map(([path, body]) => {
			const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
			return { header: { name: root ? `${root}/${path}` : path, size: bytes.byteLength }, body: bytes };
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
