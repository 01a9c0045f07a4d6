import { config } from "../../schema/config";
import { refused } from "../refusals";

// Capability URLs for the files of restricted packages. A page cannot send an Authorization
// header with `import()`, so whoever may read a restricted package is handed a base URL that
// carries an HMAC of the package and version: unguessable without URL_SIGNING_SECRET, the same
// for every reader (so it stays immutable and cacheable), and checked in constant time.

const encoder = new TextEncoder();
let cached: { secret: string; key: Promise<CryptoKey> } | null = null;

function signingKey(env: Env): Promise<CryptoKey> {
	const secret = config(env).urlSigningSecret;
	// The router answers 503 before any route runs while a secret is missing (see router.ts).
	if (secret === null) throw refused.secretMissing("URL_SIGNING_SECRET");
	if (cached?.secret === secret) return cached.key;
	const key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
		"sign",
		"verify",
	]);
	cached = { secret, key };
	return key;
}

const message = (name: string, version: string) => encoder.encode(`files:${name}@${version}`);

export async function capabilityFor(env: Env, name: string, version: string): Promise<string> {
	const signature = await crypto.subtle.sign("HMAC", await signingKey(env), message(name, version));
	return new Uint8Array(signature).toBase64({ alphabet: "base64url", omitPadding: true });
}

/** Checked in constant time, in its one canonical spelling (unpadded base64url), so each file has one URL. */
export async function isCapabilityFor(env: Env, capability: string, name: string, version: string): Promise<boolean> {
	let signature: Uint8Array<ArrayBuffer>;
	try {
		signature = Uint8Array.fromBase64(capability, { alphabet: "base64url" }) as Uint8Array<ArrayBuffer>;
	} catch {
		return false;
	}
	if (signature.toBase64({ alphabet: "base64url", omitPadding: true }) !== capability) return false;
	return crypto.subtle.verify("HMAC", await signingKey(env), signature, message(name, version));
}
