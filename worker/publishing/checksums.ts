import { type Bytes, digest } from "../../schema/hashing";

/** npm's two checksums of a tarball: `dist.integrity` (SRI sha512) and `dist.shasum` (hex sha1). */
export async function tarballChecksums(bytes: Bytes): Promise<{ integrity: string; shasum: string }> {
	const [sha512, sha1] = await Promise.all([digest("SHA-512", bytes), digest("SHA-1", bytes)]);
	return { integrity: `sha512-${sha512.toBase64()}`, shasum: sha1.toHex() };
}

/** A subresource-integrity value for `<script integrity>` and import maps. */
export async function sriSha384(bytes: Bytes): Promise<string> {
	return `sha384-${(await digest("SHA-384", bytes)).toBase64()}`;
}
