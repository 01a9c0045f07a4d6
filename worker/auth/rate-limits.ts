import { refused } from "../refusals";

// Rate limits, on the Workers Rate Limiting bindings of wrangler.jsonc (where the limits are set;
// they also work under wrangler dev). Windows are fixed minutes, so Retry-After is the time left
// in the current one. Requests whose client address is unknown cannot be attributed and are not
// limited: on Cloudflare, and under Miniflare, every request carries CF-Connecting-IP.

const PERIOD_SECONDS = 60; // the `period` of every limiter in wrangler.jsonc

/** Anonymous requests, per client IP. */
export function limitAnonymous(env: Env, ip: string | null): Promise<void> {
	return check(env.ANONYMOUS_RATE_LIMIT, ip, ip, "anonymous requests");
}

/** Customer keys, per client IP across all keys (`{ip}:blk_`), so rotating keys gains nothing. */
export function limitCustomer(env: Env, ip: string | null): Promise<void> {
	return check(env.CUSTOMER_RATE_LIMIT, ip, `${ip}:blk_`, "requests with customer keys");
}

/** Failed authentications, per client IP: slows down anyone guessing tokens. */
export function limitFailedAuthentication(env: Env, ip: string | null): Promise<void> {
	return check(env.AUTH_FAILURE_RATE_LIMIT, ip, ip, "failed authentications");
}

async function check(
	limiter: RateLimit | undefined,
	ip: string | null,
	key: string | null,
	what: string,
): Promise<void> {
	if (!limiter || ip === null || key === null) return;
	const { success } = await limiter.limit({ key });
	if (success) return;
	const retryAfter = Math.max(1, Math.ceil(PERIOD_SECONDS - ((Date.now() / 1000) % PERIOD_SECONDS)));
	throw refused.rateLimited(what, retryAfter);
}
