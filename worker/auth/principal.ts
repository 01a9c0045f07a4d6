import ipaddr from "ipaddr.js";
import type { TokenRecord } from "../../schema/auth/contract";
import { config } from "../../schema/config";
import { type Bytes, digest, randomHex, sha256Hex } from "../../schema/hashing";
import type { Grant, TokenKind } from "../../schema/requests/admin";
import type { TrustedPublisher } from "../../schema/trust/contract";
import type { HttpError } from "../errors";
import { urlOf } from "../http";
import { countAuthFailure } from "../metrics/isolate";
import { refused } from "../refusals";
import { authStore } from "./auth-store";
import { limitAnonymous, limitCustomer, limitFailedAuthentication } from "./rate-limits";
import { cachedToken, lookupToken } from "./token-cache";

// Who is asking. A token is looked up by its SHA-256 in its own TokenDO (never a registry-wide
// object) through this isolate's token cache (token-cache.ts): usually a Map lookup.

type Identity = {
	/** Who the principal speaks for, as whoami and the audit trail name it: the user, else the token's name. */
	name: string;
	tokenId: string | null;
	prefix: string | null;
	email: string | null;
};

export type Principal =
	| { kind: "anonymous"; ip: string | null }
	| ({ kind: "admin"; ip: string | null } & Identity)
	| ({
			kind: "developer" | "customer";
			ip: string | null;
			tokenId: string;
			prefix: string;
			/** The npm user account the token acts for (npm login, npm token create), if any. */
			account: string | null;
			grants: Grant[];
			/** The token's user has TOTP enabled. */
			totp: boolean;
			/** The token skips two-factor prompts (created by its user, with a code). */
			bypassTwoFactor: boolean;
			/** The token may only read, or only touch some of its user's packages (npm granular tokens). */
			readonly: boolean;
			restricted: boolean;
			/** A token exchanged for a CI's ID token: it may only publish or stage its one package. */
			trustedPublisher?: TrustedPublisher | null;
	  } & Identity);

/** A developer token or customer key (not anonymous, not admin). */
export type TokenPrincipal = Extract<Principal, { kind: "developer" | "customer" }>;

export const TOKEN_PREFIXES: Record<TokenKind, string> = { developer: "dev_", customer: "blk_", admin: "adm_" };

/**
 * The client's address: the CF-Connecting-IP that Cloudflare's edge (or `npm start`'s local edge)
 * sets, or the one address of every client of `npm start` on loopback; null when unknown.
 */
export function clientIp(request: Request, env: Env): string | null {
	return config(env).localClientAddress ?? request.headers.get("cf-connecting-ip");
}

/**
 * Resolves the Authorization header. A token that is present but wrong is a 401 (never
 * anonymous); failed authentications and anonymous requests count against per-IP limits, and
 * customer keys against the per-IP customer limit.
 */
export async function authenticate(request: Request, env: Env): Promise<Principal> {
	const ip = clientIp(request, env);
	const header = request.headers.get("authorization");
	if (header === null || header.trim() === "") {
		await limitAnonymous(env, ip);
		return { kind: "anonymous", ip };
	}
	const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
	if (!token) return failed(request, env, ip, null, refused.notBearer());

	// The token's SHA-256, computed per request (the plaintext is never kept): it names the token's
	// object and its entry in the token cache, and compares with the admin token's in constant time.
	const digest = await sha256(token);
	const admin = adminTokenDigest(env);
	const adminDigest = admin instanceof Promise ? await admin : admin;
	if (adminDigest !== null && crypto.subtle.timingSafeEqual(digest, adminDigest)) {
		return { kind: "admin", ip, name: "admin", tokenId: null, prefix: null, email: null };
	}
	const kind = kindOfToken(token);
	if (kind === null) return failed(request, env, ip, null, refused.badTokenPrefix());
	// The prefix a token is listed by (`dev_a3f8e2c1`) pasted for the token: say so (#24.6).
	if (token.length <= TOKEN_PREFIXES[kind].length + 16) return failed(request, env, ip, null, refused.partialToken());
	const hash = digest.toHex();
	const record = cachedToken(hash) ?? (await lookupToken(env, hash));
	if (record === null || record.kind !== kind || expired(record)) {
		return failed(request, env, ip, token.slice(0, TOKEN_PREFIXES[kind].length + 8), refused.invalidToken());
	}
	return principalOf(env, record, ip);
}

/**
 * The principal of a web session (worker/web/session.ts), which names its token by SHA-256: the
 * same checks as a header's token, but a token that no longer works (revoked, expired, from an
 * address it may not be used from) ends the session instead of failing the request: null.
 */
export async function authenticateHash(request: Request, env: Env, hash: string): Promise<Principal | null> {
	const ip = clientIp(request, env);
	const admin = adminTokenDigest(env);
	const adminDigest = admin instanceof Promise ? await admin : admin;
	if (adminDigest !== null && timingSafeEqualHex(hash, adminDigest.toHex())) {
		return { kind: "admin", ip, name: "admin", tokenId: null, prefix: null, email: null };
	}
	const record = cachedToken(hash) ?? (await lookupToken(env, hash));
	if (record === null || expired(record)) return null;
	if (record.cidr !== null && !allowedFrom(record.cidr, ip)) return null;
	return principalOf(env, record, ip);
}

/**
 * Principals made from token records, by the record (a changed, revoked or expired token is a new
 * record in the token cache, or none) and the client's address: a token's repeated requests from
 * one address share one principal, made and checked against the token's address ranges once.
 * Principals are frozen: every request only reads them.
 */
const principals = new WeakMap<TokenRecord, { ip: string | null; principal: Principal }>();

/** The principal of a token that works; a token used from an address its ranges do not allow is refused. */
async function principalOf(env: Env, record: TokenRecord, ip: string | null): Promise<Principal> {
	if (record.kind === "customer") await limitCustomer(env, ip);
	const made = principals.get(record);
	if (made !== undefined && made.ip === ip) return made.principal;
	if (record.cidr !== null && !allowedFrom(record.cidr, ip)) throw refused.wrongAddress(ip);
	const principal = Object.freeze(newPrincipal(record, ip));
	principals.set(record, { ip, principal });
	return principal;
}

function newPrincipal(record: TokenRecord, ip: string | null): Principal {
	const identity = { name: record.user ?? record.name, tokenId: record.id, prefix: record.prefix, email: record.email };
	if (record.kind === "admin") return { kind: "admin", ip, ...identity };
	return {
		kind: record.kind,
		ip,
		...identity,
		tokenId: record.id,
		prefix: record.prefix,
		account: record.user,
		grants: record.grants,
		totp: record.totp,
		bypassTwoFactor: record.bypassTwoFactor,
		// Records pushed before these fields existed are read as limited until they are pushed again.
		readonly: record.readonly ?? true,
		restricted: record.restricted ?? true,
		trustedPublisher: record.trustedPublisher ?? null,
	};
}

let adminDigest: { token: string; digest: Bytes | Promise<Bytes> } | null = null;

/**
 * The SHA-256 of the configured admin token, computed once per isolate (and again if it changes):
 * a promise only until it is known.
 */
function adminTokenDigest(env: Env): Bytes | null | Promise<Bytes> {
	const { adminToken } = config(env);
	if (adminToken === null) return null;
	if (adminDigest?.token !== adminToken) {
		const made: { token: string; digest: Bytes | Promise<Bytes> } = { token: adminToken, digest: sha256(adminToken) };
		made.digest = (made.digest as Promise<Bytes>).then((digest) => {
			made.digest = digest;
			return digest;
		});
		adminDigest = made;
	}
	return adminDigest.digest;
}

const encoder = new TextEncoder();

function sha256(text: string): Promise<Bytes> {
	return digest("SHA-256", encoder.encode(text) as Bytes);
}

function timingSafeEqualHex(a: string, b: string): boolean {
	const encoder = new TextEncoder();
	const [x, y] = [encoder.encode(a), encoder.encode(b)];
	return x.byteLength === y.byteLength && crypto.subtle.timingSafeEqual(x, y);
}

/** A failed authentication: counted per IP (429 past the limit), audited when it tried to write. */
async function failed(
	request: Request,
	env: Env,
	ip: string | null,
	prefix: string | null,
	refusal: HttpError,
): Promise<never> {
	countAuthFailure(refusal.code, ip);
	await limitFailedAuthentication(env, ip);
	if (request.method !== "GET" && request.method !== "HEAD") {
		await authStore(env).audit(
			{ name: "anonymous", prefix, ip, label: "anonymous" },
			"auth.failed",
			auditedPath(request),
			{
				method: request.method,
			},
		);
	}
	throw refusal;
}

/**
 * The path of a failed request, for the audit trail: a path can carry a secret (DELETE
 * /-/npm/v1/tokens/token/{token}, npm logout), so long segments keep only their first characters.
 */
function auditedPath(request: Request): string {
	return urlOf(request)
		.pathname.split("/")
		.map((segment) => (segment.length > 24 ? `${segment.slice(0, 12)}…` : segment))
		.join("/");
}

/** Checked here too: a record cached before its expiry must not outlive it. */
function expired(record: TokenRecord): boolean {
	return record.expiresAt !== null && Date.parse(record.expiresAt) <= Date.now();
}

const KINDS = Object.entries(TOKEN_PREFIXES) as [TokenKind, string][];

function kindOfToken(token: string): TokenKind | null {
	for (const [kind, prefix] of KINDS) {
		if (token.startsWith(prefix)) return kind;
	}
	return null;
}

function allowedFrom(ranges: string[], ip: string | null): boolean {
	if (ip === null || !ipaddr.isValid(ip)) return false;
	const address = ipaddr.process(ip);
	return ranges.some((range) => {
		const [network, bits] = ipaddr.parseCIDR(range);
		const comparable =
			network.kind() === "ipv6" && address instanceof ipaddr.IPv4 ? address.toIPv4MappedAddress() : address;
		return comparable.kind() === network.kind() && comparable.match(network, bits);
	});
}

/** A fresh token of a kind: the plaintext (shown once), its hash (stored) and its listed prefix. */
export async function newToken(kind: TokenKind): Promise<{ token: string; hash: string; prefix: string }> {
	const token = `${TOKEN_PREFIXES[kind]}${randomHex(32)}`;
	return { token, hash: await sha256Hex(token), prefix: token.slice(0, TOKEN_PREFIXES[kind].length + 8) };
}
