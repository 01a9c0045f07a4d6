import type { TokenRecord } from "../../schema/auth/contract";
import { tokenStub } from "../objects";

// This isolate's memory of token records, by the token's SHA-256: a token check is usually a Map
// lookup. Entries live TOKEN_CACHE_MS, so a change reaches every isolate within that time; the
// isolate that made a change forgets the token at once (worker/auth/auth-store.ts).

const TOKEN_CACHE_MS = 30_000;
const TOKEN_CACHE_MAX = 10_000;
const tokenCache = new Map<string, { record: TokenRecord | null; until: number }>();

/** The token's record as this isolate remembers it; undefined when it must be looked up. */
export function cachedToken(hash: string): TokenRecord | null | undefined {
	const cached = tokenCache.get(hash);
	return cached && cached.until > Date.now() ? cached.record : undefined;
}

/** The token's record from its TokenDO (through the cache); null when it does not work. */
export async function lookupToken(env: Env, hash: string): Promise<TokenRecord | null> {
	const now = Date.now();
	const cached = tokenCache.get(hash);
	if (cached && cached.until > now) return cached.record;
	const found = await tokenStub(env, hash).get();
	const record = found.ok ? found.value : null;
	if (tokenCache.size >= TOKEN_CACHE_MAX) tokenCache.clear();
	tokenCache.set(hash, { record, until: now + TOKEN_CACHE_MS });
	return record;
}

/** Drops a token from this isolate's cache, so a change to it applies here immediately. */
export function forgetToken(hash: string): void {
	tokenCache.delete(hash);
}
