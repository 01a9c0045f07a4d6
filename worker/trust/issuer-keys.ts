import { refused } from "../refusals";

// The signing keys of the OpenID Connect issuers trusted publishers come from: read from the
// issuer's discovery document (`jwks_uri`) and its JWKS, kept in this isolate for an hour, and
// read again when a token names a key the cached set does not have (the issuer rotated its keys):
// once per unknown key id, so that a token with a made-up id costs at most one fetch (and every
// refused exchange counts against its address's failed authentications).

const KEEP_MS = 60 * 60_000;
const MAX_TRIED_KIDS = 1_000;
const FETCH_TIMEOUT_MS = 5_000;

export type Jwk = JsonWebKey & { kid?: string; alg?: string };
/** `tried`: unknown key ids the set was already fetched again for. */
type KeySet = { keys: Jwk[]; fetchedAt: number; tried: Set<string> };

const cached = new Map<string, KeySet>();

/** The issuer's key with this id, or null when the issuer (even asked again) does not publish one. */
export async function issuerKey(issuer: string, kid: string | null): Promise<Jwk | null> {
	const now = Date.now();
	let set = cached.get(issuer);
	if (!set || now - set.fetchedAt > KEEP_MS) set = await refresh(issuer, new Set());
	let key = pick(set.keys, kid);
	const id = kid ?? "";
	if (key === null && !set.tried.has(id) && set.tried.size < MAX_TRIED_KIDS) {
		set = await refresh(issuer, new Set([...set.tried, id]));
		key = pick(set.keys, kid);
	}
	return key;
}

function pick(keys: Jwk[], kid: string | null): Jwk | null {
	if (kid === null) return keys.length === 1 ? (keys[0] ?? null) : null;
	return keys.find((key) => key.kid === kid) ?? null;
}

async function refresh(issuer: string, tried: Set<string>): Promise<KeySet> {
	try {
		const discovery = (await fetchJson(`${issuer}/.well-known/openid-configuration`)) as { jwks_uri?: unknown };
		if (typeof discovery.jwks_uri !== "string") throw new Error("the discovery document has no jwks_uri");
		const jwks = (await fetchJson(discovery.jwks_uri)) as { keys?: unknown };
		if (!Array.isArray(jwks.keys)) throw new Error("the JWKS has no keys");
		const set = { keys: jwks.keys as Jwk[], fetchedAt: Date.now(), tried };
		cached.set(issuer, set);
		return set;
	} catch (error) {
		console.error("could not fetch the keys of", issuer, error);
		throw refused.issuerUnavailable(issuer);
	}
}

async function fetchJson(url: string): Promise<unknown> {
	const response = await fetch(url, {
		headers: { accept: "application/json" },
		signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
	});
	if (!response.ok) throw new Error(`${url} answered ${response.status}`);
	return response.json();
}
