// Which clients of a channel get a staged rollout's version: a stable client key (the loader's
// X-Client-Key, else the caller's token id) hashed with the rollout's salt into one of 10,000
// buckets; buckets below the percentage (in hundredths of a percent) get the new version. Same key,
// same salt: same bucket, so a client keeps its version while the percentage only grows.

export const BUCKETS = 10_000;

export async function bucketOf(salt: string, clientKey: string): Promise<number> {
	const digest = new Uint8Array(
		await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${salt}:${clientKey}`)),
	);
	const value = ((digest[0] ?? 0) << 24) | ((digest[1] ?? 0) << 16) | ((digest[2] ?? 0) << 8) | (digest[3] ?? 0);
	return (value >>> 0) % BUCKETS;
}

/** Whether a client gets the rollout's version; a client without a key stays on the control. */
export async function inRollout(salt: string, percent: number, clientKey: string | null): Promise<boolean> {
	if (clientKey === null || clientKey === "") return false;
	return (await bucketOf(salt, clientKey)) < Math.round(percent * (BUCKETS / 100));
}
