// Registry signatures checked as a client would: the signature's key found in the registry's
// listing by keyid, then ECDSA P-256 over SHA-256 with WebCrypto.

export type ListedKey = { expires: string | null; keyid: string; keytype: string; scheme: string; key: string };
export type Signature = { keyid: string; sig: string };

/** DER SEQUENCE { INTEGER r, INTEGER s } → r ‖ s (32 bytes each), which WebCrypto verifies. */
export function rawSignature(der: Uint8Array): Uint8Array<ArrayBuffer> {
	const raw = new Uint8Array(64);
	let at = 2;
	for (const half of [0, 1]) {
		const length = der[at + 1] ?? 0;
		const integer = der.subarray(at + 2, at + 2 + length);
		const trimmed = integer.length > 32 ? integer.subarray(integer.length - 32) : integer;
		raw.set(trimmed, half * 32 + (32 - trimmed.length));
		at += 2 + length;
	}
	return raw;
}

export async function verifies(listed: ListedKey[], signature: Signature, message: string): Promise<boolean> {
	const key = listed.find((k) => k.keyid === signature.keyid);
	if (!key) return false;
	const publicKey = await crypto.subtle.importKey(
		"spki",
		Uint8Array.fromBase64(key.key),
		{ name: "ECDSA", namedCurve: "P-256" },
		false,
		["verify"],
	);
	return crypto.subtle.verify(
		{ name: "ECDSA", hash: "SHA-256" },
		publicKey,
		rawSignature(Uint8Array.fromBase64(signature.sig)),
		new TextEncoder().encode(message),
	);
}
