// Registry signatures, as the public npm registry makes them and `npm audit signatures` checks
// them: ECDSA P-256 over SHA-256 of `${name}@${version}:${dist.integrity}`, the signature in DER,
// base64; keys listed at /-/npm/v1/keys by `keyid` ("SHA256:" + the unpadded base64 SHA-256 of the
// public key in SPKI DER). Used where versions are signed: by the Worker at publish, by package
// objects for versions published before signing existed.

export type RegistrySignature = { keyid: string; sig: string };

/** A public key as /-/npm/v1/keys lists it. */
export type PublicKeyListing = {
	expires: string | null;
	keyid: string;
	keytype: "ecdsa-sha2-nistp256";
	scheme: "ecdsa-sha2-nistp256";
	key: string;
};

export type SigningKey = { keyid: string; spki: string; privateKey: CryptoKey };

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const keys = new Map<string, Promise<SigningKey>>();

/** The signing key from its secret (PKCS#8 DER, base64), imported once per isolate. */
export function signingKey(pkcs8Base64: string): Promise<SigningKey> {
	let key = keys.get(pkcs8Base64);
	if (!key) {
		key = importSigningKey(pkcs8Base64);
		keys.set(pkcs8Base64, key);
	}
	return key;
}

async function importSigningKey(pkcs8Base64: string): Promise<SigningKey> {
	const der = Uint8Array.fromBase64(pkcs8Base64.trim());
	const privateKey = await crypto.subtle.importKey("pkcs8", der, ALGORITHM, false, ["sign"]);
	// WebCrypto cannot export a public key from a private one: go through an extractable JWK.
	const jwk = (await crypto.subtle.exportKey(
		"jwk",
		await crypto.subtle.importKey("pkcs8", der, ALGORITHM, true, ["sign"]),
	)) as JsonWebKey;
	const publicKey = await crypto.subtle.importKey(
		"jwk",
		{ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true },
		ALGORITHM,
		true,
		["verify"],
	);
	const spki = new Uint8Array((await crypto.subtle.exportKey("spki", publicKey)) as ArrayBuffer);
	return { keyid: await keyId(spki), spki: spki.toBase64(), privateKey };
}

export async function keyId(spki: Uint8Array<ArrayBuffer>): Promise<string> {
	const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", spki));
	return `SHA256:${hash.toBase64({ omitPadding: true })}`;
}

export function signedMessage(name: string, version: string, integrity: string): string {
	return `${name}@${version}:${integrity}`;
}

export async function signVersion(
	key: SigningKey,
	name: string,
	version: string,
	integrity: string,
): Promise<RegistrySignature> {
	const raw = new Uint8Array(
		await crypto.subtle.sign(
			{ name: "ECDSA", hash: "SHA-256" },
			key.privateKey,
			new TextEncoder().encode(signedMessage(name, version, integrity)),
		),
	);
	return { keyid: key.keyid, sig: derSignature(raw).toBase64() };
}

/**
 * WebCrypto answers an ECDSA signature as r ‖ s (32 bytes each); npm (OpenSSL) reads DER:
 * SEQUENCE { INTEGER r, INTEGER s }, each integer minimal and positive.
 */
export function derSignature(raw: Uint8Array): Uint8Array<ArrayBuffer> {
	const half = raw.length / 2;
	const integer = (bytes: Uint8Array): number[] => {
		let start = 0;
		while (start < bytes.length - 1 && bytes[start] === 0) start++;
		const trimmed = [...bytes.subarray(start)];
		// A leading bit of 1 would read as negative: prefix a zero byte.
		return [0x02, ...((trimmed[0] ?? 0) & 0x80 ? [trimmed.length + 1, 0, ...trimmed] : [trimmed.length, ...trimmed])];
	};
	const body = [...integer(raw.subarray(0, half)), ...integer(raw.subarray(half))];
	return new Uint8Array([0x30, body.length, ...body]);
}
