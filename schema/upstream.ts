import type { Config, Upstream } from "./config";

// The rules of the upstream registry that every layer shares: which names may come from upstream,
// which hosts its tarballs may come from, and what their bytes must hash to.

/**
 * Whether a name may come from upstream at all, by configuration alone: an upstream is configured
 * and the name's scope is not one this registry owns. (The package's object adds the rest: a name
 * published or claimed here is this registry's too.)
 */
export function upstreamMayServe(config: Config, scope: string | null): boolean {
	return config.upstreams.length > 0 && !(scope !== null && config.ownedScopes.includes(scope.toLowerCase()));
}

/** The configured upstream a URL lies under (by origin), or null: no other host is ever fetched from. */
export function upstreamOfUrl(config: Config, url: string): Upstream | null {
	let origin: string;
	try {
		origin = new URL(url).origin;
	} catch {
		return null;
	}
	return config.upstreams.find((upstream) => upstream.origin === origin) ?? null;
}

/** The header installers send for the abbreviated packument; upstream is asked the same way. */
export const ABBREVIATED_ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

export type DigestAlgorithm = "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512";

/** What a tarball's bytes must hash to: the strongest algorithm `dist` names, and its accepted digests. */
export type ExpectedDigest = { algorithm: DigestAlgorithm; accepted: string[]; encoding: "base64" | "hex" };

const SRI: [prefix: string, algorithm: DigestAlgorithm][] = [
	["sha512", "SHA-512"],
	["sha384", "SHA-384"],
	["sha256", "SHA-256"],
	["sha1", "SHA-1"],
];

/**
 * From `dist.integrity` (Subresource Integrity: `sha512-… sha1-…`), the strongest algorithm it
 * names; without one, `dist.shasum` (SHA-1, hex), as npm itself falls back. Null: nothing to check
 * the bytes against, and such bytes are never served.
 */
export function expectedDigest(dist: { integrity?: unknown; shasum?: unknown }): ExpectedDigest | null {
	const hashes = typeof dist.integrity === "string" ? dist.integrity.trim().split(/\s+/) : [];
	for (const [prefix, algorithm] of SRI) {
		const accepted = hashes
			.filter((hash) => hash.startsWith(`${prefix}-`))
			.map((hash) => hash.slice(prefix.length + 1).replace(/\?.*$/, ""));
		if (accepted.length > 0) return { algorithm, accepted, encoding: "base64" };
	}
	if (typeof dist.shasum === "string" && /^[0-9a-f]{40}$/i.test(dist.shasum)) {
		return { algorithm: "SHA-1", accepted: [dist.shasum.toLowerCase()], encoding: "hex" };
	}
	return null;
}

/**
 * The hash the bytes were checked against, as one integrity string (`sha512-…`; a shasum becomes
 * `sha1-…`): what the registry answers as the stored tarball's integrity and ETag.
 */
export function checkedIntegrity(expected: ExpectedDigest): string {
	const prefix = SRI.find(([, algorithm]) => algorithm === expected.algorithm)?.[0] ?? "sha1";
	const digest = expected.accepted[0] ?? "";
	return `${prefix}-${expected.encoding === "hex" ? Uint8Array.fromHex(digest).toBase64() : digest}`;
}

/** Whether a digest of the bytes is one `expected` accepts. */
export function digestAccepted(expected: ExpectedDigest, digest: Uint8Array): boolean {
	const actual = expected.encoding === "base64" ? digest.toBase64() : digest.toHex();
	return expected.accepted.includes(actual);
}

/**
 * What the package objects did with one upstream since they last said (deltas, summed by the
 * AuthStoreDO into GET /-/admin/upstream): requests that reached an object answered from its copy
 * (hits) or by waiting for upstream (misses), failed upstream requests, and the change in what is
 * stored (documents per form, tarballs in R2).
 */
export type UpstreamActivity = {
	documentHits: number;
	documentMisses: number;
	tarballHits: number;
	tarballMisses: number;
	failures: number;
	lastError: { message: string; at: string; package: string } | null;
	documents: number;
	documentBytes: number;
	tarballs: number;
	tarballBytes: number;
};

export function noActivity(): UpstreamActivity {
	return {
		documentHits: 0,
		documentMisses: 0,
		tarballHits: 0,
		tarballMisses: 0,
		failures: 0,
		lastError: null,
		documents: 0,
		documentBytes: 0,
		tarballs: 0,
		tarballBytes: 0,
	};
}
