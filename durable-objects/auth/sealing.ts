import { derivedKey } from "../../schema/derived-keys";

// Secrets the registry must read back (TOTP seeds) are kept sealed: AES-256-GCM under a key derived
// (HKDF-SHA-256) from the ENCRYPTION_KEY secret, so a copy of the database alone reveals none of
// them. Sealed values are `sealed:v1:` + base64(iv ‖ ciphertext); anything else is a value stored
// before sealing existed, read as it is and sealed again at its next use.

const PREFIX = "sealed:v1:";
const encoder = new TextEncoder();
function keyFor(secret: string): Promise<CryptoKey> {
	return derivedKey(secret, "registry totp seeds", { name: "AES-GCM", length: 256 }, ["encrypt", "decrypt"]);
}

export async function seal(secret: string, plaintext: string): Promise<string> {
	const iv = crypto.getRandomValues(new Uint8Array(12));
	const ciphertext = await crypto.subtle.encrypt(
		{ name: "AES-GCM", iv },
		await keyFor(secret),
		encoder.encode(plaintext),
	);
	const sealed = new Uint8Array(iv.byteLength + ciphertext.byteLength);
	sealed.set(iv);
	sealed.set(new Uint8Array(ciphertext), iv.byteLength);
	return `${PREFIX}${sealed.toBase64()}`;
}

export function isSealed(value: string): boolean {
	return value.startsWith(PREFIX);
}

export async function unseal(secret: string, value: string): Promise<string> {
	if (!isSealed(value)) return value;
	const sealed = Uint8Array.fromBase64(value.slice(PREFIX.length));
	const plaintext = await crypto.subtle.decrypt(
		{ name: "AES-GCM", iv: sealed.subarray(0, 12) },
		await keyFor(secret),
		sealed.subarray(12),
	);
	return new TextDecoder().decode(plaintext);
}
