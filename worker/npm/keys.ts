import { config } from "../../schema/config";
import { keyId, type PublicKeyListing, signingKey } from "../../schema/signatures";
import { cacheControl } from "../cache-control";
import { json } from "../http";

// GET /-/npm/v1/keys: the keys registry signatures verify with, in npm's shape (`npm audit
// signatures` reads it): the current key, and earlier ones with the time they stopped signing.

export async function listSigningKeys(_request: Request, env: Env): Promise<Response> {
	const { registrySigningKey, retiredSigningKeys } = config(env);
	const keys: PublicKeyListing[] = [];
	if (registrySigningKey !== null) {
		const current = await signingKey(registrySigningKey);
		keys.push(listing(current.keyid, current.spki, null));
	}
	for (const retired of retiredSigningKeys) {
		keys.push(listing(await keyId(Uint8Array.fromBase64(retired.key)), retired.key, retired.expires));
	}
	return json({ keys }, { headers: { "cache-control": cacheControl.signingKeys } });
}

function listing(keyid: string, key: string, expires: string | null): PublicKeyListing {
	return { expires, keyid, keytype: "ecdsa-sha2-nistp256", scheme: "ecdsa-sha2-nistp256", key };
}
