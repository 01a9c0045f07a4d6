// Keys derived from one secret for one purpose each (HKDF-SHA-256, the purpose as `info`), so a
// secret serves several uses without one key ever doing two jobs. Imported once per isolate.

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

type Algorithm = { name: "HMAC"; hash: "SHA-256"; length: 256 } | { name: "AES-GCM"; length: 256 };

export function derivedKey(
	secret: string,
	purpose: string,
	algorithm: Algorithm,
	usages: ("sign" | "verify" | "encrypt" | "decrypt")[],
): Promise<CryptoKey> {
	const id = `${purpose}\u0000${secret}`;
	let key = keys.get(id);
	if (!key) {
		key = crypto.subtle
			.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"])
			.then((material) =>
				crypto.subtle.deriveKey(
					{ name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: encoder.encode(purpose) },
					material,
					algorithm,
					false,
					usages,
				),
			);
		keys.set(id, key);
	}
	return key;
}
