import { config, type Upstream } from "../../schema/config";
import { keyId, type PublicKeyListing, signingKey } from "../../schema/signatures";
import { json } from "../http";
import { route } from "../route-policy";

// GET /-/npm/v1/keys: the keys registry signatures verify with, in npm's shape (`npm audit
// signatures` reads it): the current key, earlier ones with the time they stopped signing, and,
// with an upstream registry behind this one, the upstreams' own keys. Upstream packages keep
// upstream's `dist.signatures`, and npm looks every signature's key up here, at the registry the
// package came from: without them it stops at the first upstream package (EMISSINGSIGNATUREKEY).

export const listSigningKeys = route({ auth: "none", cache: "signingKeys" }, async (_request, env) => {
	const { registrySigningKey, retiredSigningKeys, upstreams, upstreamTimeoutMs } = config(env);
	const keys: PublicKeyListing[] = [];
	if (registrySigningKey !== null) {
		const current = await signingKey(registrySigningKey);
		keys.push(listing(current.keyid, current.spki, null));
	}
	for (const retired of retiredSigningKeys) {
		keys.push(listing(await keyId(Uint8Array.fromBase64(retired.key)), retired.key, retired.expires));
	}
	const fromUpstreams = await Promise.all(upstreams.map((upstream) => upstreamKeys(upstream, upstreamTimeoutMs)));
	for (const key of fromUpstreams.flat()) {
		if (!keys.some((k) => k.keyid === key.keyid)) keys.push(key);
	}
	return json({ keys });
});

function listing(keyid: string, key: string, expires: string | null): PublicKeyListing {
	return { expires, keyid, keytype: "ecdsa-sha2-nistp256", scheme: "ecdsa-sha2-nistp256", key };
}

/** How long an upstream's keys are kept in this isolate before they are asked for again. */
const UPSTREAM_KEYS_MS = 5 * 60_000;
/** How long a failure to list them is believed: no request waits on a failing upstream meanwhile (#22.11). */
const UPSTREAM_KEYS_FAILURE_MS = 60_000;
const upstreamKeyCache = new Map<string, { at: number; keys: PublicKeyListing[]; failed: boolean }>();
/** Lists being asked for right now: concurrent requests share one. */
const asking = new Map<string, Promise<PublicKeyListing[]>>();

/**
 * An upstream's keys, kept per isolate for five minutes; while upstream cannot be asked, the keys
 * it listed last (keys only ever gain an `expires`), or none, for a minute before it is asked again.
 */
function upstreamKeys(upstream: Upstream, timeoutMs: number): Promise<PublicKeyListing[]> {
	const cached = upstreamKeyCache.get(upstream.url);
	const keptFor = cached?.failed ? UPSTREAM_KEYS_FAILURE_MS : UPSTREAM_KEYS_MS;
	if (cached && Date.now() - cached.at < keptFor) return Promise.resolve(cached.keys);
	let pending = asking.get(upstream.url);
	if (!pending) {
		pending = askUpstreamKeys(upstream, timeoutMs, cached?.keys ?? []).finally(() => asking.delete(upstream.url));
		asking.set(upstream.url, pending);
	}
	return pending;
}

async function askUpstreamKeys(
	upstream: Upstream,
	timeoutMs: number,
	lastListed: PublicKeyListing[],
): Promise<PublicKeyListing[]> {
	try {
		const headers = new Headers({ accept: "application/json" });
		if (upstream.token) headers.set("authorization", `Bearer ${upstream.token}`);
		const res = await fetch(`${upstream.url}/-/npm/v1/keys`, {
			headers,
			redirect: "manual",
			signal: AbortSignal.timeout(timeoutMs),
		});
		if (res.status === 404) {
			// An upstream that signs nothing.
			upstreamKeyCache.set(upstream.url, { at: Date.now(), keys: [], failed: false });
			return [];
		}
		if (!res.ok) throw new Error(`upstream answered ${res.status}`);
		const keys = upstreamListings(await res.json());
		upstreamKeyCache.set(upstream.url, { at: Date.now(), keys, failed: false });
		return keys;
	} catch (error) {
		// The upstream's failure, not this code's: its reason is worth a line, a stack trace is not.
		const why = error instanceof Error ? error.message : String(error);
		console.warn(`could not list the signing keys of ${upstream.url} (${why}); asking again in a minute`);
		upstreamKeyCache.set(upstream.url, { at: Date.now(), keys: lastListed, failed: true });
		return lastListed;
	}
}

/** The well-formed entries of an upstream's `{ keys: [...] }`, in npm's shape. */
function upstreamListings(body: unknown): PublicKeyListing[] {
	const entries = (body as { keys?: unknown } | null)?.keys;
	if (!Array.isArray(entries)) return [];
	return entries.slice(0, 32).flatMap((entry: unknown) => {
		const { keyid, key, expires, keytype, scheme } = (entry ?? {}) as Record<string, unknown>;
		if (typeof keyid !== "string" || typeof key !== "string" || keyid.length > 200 || key.length > 2000) return [];
		if (keytype !== "ecdsa-sha2-nistp256" || scheme !== "ecdsa-sha2-nistp256") return [];
		if (expires !== null && (typeof expires !== "string" || Number.isNaN(Date.parse(expires)))) return [];
		return [listing(keyid, key, expires)];
	});
}
