import { config, type OidcIssuer } from "../../schema/config";
import { refused } from "../refusals";
import { issuerKey, type Jwk } from "./issuer-keys";

// Checking a CI provider's OpenID Connect ID token (a JWT): the issuer is one OIDC_ISSUERS
// trusts, the signature verifies with a key the issuer publishes (crypto.subtle: RS256 or ES256),
// the audience is this registry (`npm:{host}`, as npm asks GitHub for it), and it is within its
// lifetime, with a minute's allowance for clocks that disagree.

const SKEW_SECONDS = 60;

export type IdToken = {
	issuer: OidcIssuer;
	claims: Record<string, unknown> & { iss: string; exp: number };
};

export async function verifyIdToken(env: Env, token: string, audience: string, now = Date.now()): Promise<IdToken> {
	const parts = token.split(".");
	const [headerText, payloadText, signatureText] = parts;
	if (parts.length !== 3 || !headerText || !payloadText || !signatureText) throw refused.idTokenMalformed();
	const header = decodeJson(headerText) as { alg?: unknown; kid?: unknown };
	const claims = decodeJson(payloadText) as IdToken["claims"];
	if (typeof claims.iss !== "string" || typeof claims.exp !== "number") throw refused.idTokenMalformed();
	const issuer = trustedIssuer(env, claims.iss);
	if (issuer === null) throw refused.issuerNotTrusted(claims.iss);
	const algorithm = ALGORITHMS[String(header.alg)];
	if (!algorithm) throw refused.idTokenMalformed();
	const kid = typeof header.kid === "string" ? header.kid : null;
	const jwk = await issuerKey(claims.iss, kid);
	if (jwk === null) throw refused.idTokenUnknownKey(kid ?? "(none)");
	const signed = new TextEncoder().encode(`${headerText}.${payloadText}`);
	if (!(await verifySignature(algorithm, jwk, signatureText, signed))) throw refused.idTokenBadSignature();
	const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
	if (!audiences.includes(audience)) throw refused.idTokenAudience(audience);
	const seconds = now / 1000;
	if (claims.exp + SKEW_SECONDS <= seconds) throw refused.idTokenExpired();
	const notBefore = typeof claims.nbf === "number" ? claims.nbf : null;
	const issuedAt = typeof claims.iat === "number" ? claims.iat : null;
	if (
		(notBefore !== null && notBefore - SKEW_SECONDS > seconds) ||
		(issuedAt !== null && issuedAt - SKEW_SECONDS > seconds)
	) {
		throw refused.idTokenNotYetValid();
	}
	return { issuer, claims };
}

/** The configured issuer of `iss`: equal to it, or (CircleCI's per-organisation issuers) a prefix of it. */
function trustedIssuer(env: Env, iss: string): OidcIssuer | null {
	return config(env).oidcIssuers.find((issuer) => iss === issuer.url || iss.startsWith(`${issuer.url}/`)) ?? null;
}

type Algorithm = {
	import: Parameters<typeof crypto.subtle.importKey>[2];
	verify: Parameters<typeof crypto.subtle.verify>[0];
};
const ALGORITHMS: Record<string, Algorithm> = {
	RS256: { import: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, verify: { name: "RSASSA-PKCS1-v1_5" } },
	ES256: { import: { name: "ECDSA", namedCurve: "P-256" }, verify: { name: "ECDSA", hash: "SHA-256" } },
};

async function verifySignature(algorithm: Algorithm, jwk: Jwk, signatureText: string, signed: Uint8Array) {
	try {
		const signature = base64url(signatureText);
		const { kid: _kid, alg: _alg, ...material } = jwk;
		const key = await crypto.subtle.importKey("jwk", material, algorithm.import, false, ["verify"]);
		return await crypto.subtle.verify(algorithm.verify, key, signature, signed);
	} catch {
		return false;
	}
}

function decodeJson(part: string): Record<string, unknown> {
	try {
		const value: unknown = JSON.parse(new TextDecoder().decode(base64url(part)));
		if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
	} catch {
		// falls through to the refusal
	}
	throw refused.idTokenMalformed();
}

function base64url(text: string): Uint8Array {
	const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
	const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
	return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
