// Signing ID tokens (RS256 JWTs) as a CI provider's OpenID Connect issuer does, for the tests of
// trusted publishing (#19): used inside workerd and by the end-to-end tests' issuer in Node.

export async function signJwt(key: CryptoKey, kid: string, claims: Record<string, unknown>): Promise<string> {
	const encode = (value: unknown) => base64url(new TextEncoder().encode(JSON.stringify(value)));
	const signed = `${encode({ alg: "RS256", typ: "JWT", kid })}.${encode(claims)}`;
	const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, new TextEncoder().encode(signed));
	return `${signed}.${base64url(new Uint8Array(signature))}`;
}

function base64url(bytes: Uint8Array): string {
	let binary = "";
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
