import { type Bytes, digest } from "../../schema/hashing";

// Secrets on the platform's own `crypto.subtle`: constant-time comparison and password hashing.

const encoder = new TextEncoder();

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
