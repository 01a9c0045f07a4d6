// Hashing and secrets on the platform's own `crypto.subtle`: no polyfills, no hand-rolled digests.

type Bytes = Uint8Array<ArrayBuffer>;
const encoder = new TextEncoder();

export async function digest(algorithm: "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512", data: Bytes): Promise<Bytes> {
	return new Uint8Array(await crypto.subtle.digest(algorithm, data));
}

export async function sha256Hex(text: string): Promise<string> {
	return (await digest("SHA-256", encoder.encode(text) as Bytes)).toHex();
}

/** npm's two checksums of a tarball: `dist.integrity` (SRI sha512) and `dist.shasum` (hex sha1). */
export async function tarballChecksums(bytes: Bytes): Promise<{ integrity: string; shasum: string }> {
	const [sha512, sha1] = await Promise.all([digest("SHA-512", bytes), digest("SHA-1", bytes)]);
	return { integrity: `sha512-${sha512.toBase64()}`, shasum: sha1.toHex() };
}

/** A subresource-integrity value for `<script integrity>` and import maps. */
export async function sriSha384(bytes: Bytes): Promise<string> {
	return `sha384-${(await digest("SHA-384", bytes)).toBase64()}`;
}

export function randomHex(byteLength: number): string {
	return crypto.getRandomValues(new Uint8Array(byteLength)).toHex();
}

/** Compares secrets in constant time: both sides are hashed first so their lengths always match. */
export async function timingSafeEqualText(a: string, b: string): Promise<boolean> {
	const [da, db] = await Promise.all([
		digest("SHA-256", encoder.encode(a) as Bytes),
		digest("SHA-256", encoder.encode(b) as Bytes),
	]);
	return crypto.subtle.timingSafeEqual(da, db);
}

export const PBKDF2_ITERATIONS = 100_000; // the most Workers' PBKDF2 accepts

/** A slow, salted password hash (PBKDF2-SHA-256). */
export async function hashPassword(password: string, saltHex: string, iterations: number): Promise<string> {
	const key = await crypto.subtle.importKey("raw", encoder.encode(password), "PBKDF2", false, ["deriveBits"]);
	const bits = await crypto.subtle.deriveBits(
		{ name: "PBKDF2", hash: "SHA-256", salt: Uint8Array.fromHex(saltHex), iterations },
		key,
		256,
	);
	return new Uint8Array(bits).toHex();
}
