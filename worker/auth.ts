import ipaddr from "ipaddr.js";
import type { Actor } from "../durable-objects/audit";
import type { TokenRecord } from "../durable-objects/token";
import type { Grant, Permission, TokenKind } from "../schema/admin";
import { forbidden, HttpError, notFound, unauthorized } from "./errors";
import { randomHex, sha256Hex, timingSafeEqualText } from "./lib/crypto";
import type { PackageName } from "./lib/package-name";
import { authStore, packageObject, tokenObject } from "./objects";
import { limitAnonymous, limitCustomer, limitFailedAuthentication } from "./rate-limits";
import { assertSecondFactor } from "./two-factor";

// Who is asking, and what they may do. A token is looked up by its SHA-256 in its own TokenDO
// (never a registry-wide object) through a per-isolate cache: a token check is usually a Map
// lookup. Revocation reaches the TokenDO before the admin API answers; this isolate forgets the
// token at once, every other isolate within TOKEN_CACHE_MS, so everywhere within 30 seconds.

type Identity = { username: string; tokenId: string | null; prefix: string | null; email: string | null };

export type Principal =
	| { kind: "anonymous"; ip: string | null }
	| ({ kind: "admin"; ip: string | null } & Identity)
	| ({
			kind: "developer" | "customer";
			ip: string | null;
			tokenId: string;
			prefix: string;
			user: string | null;
			grants: Grant[];
			/** The token's user has TOTP enabled. */
			totp: boolean;
			/** The token skips two-factor prompts (created by its user, with a code). */
			bypassTwoFactor: boolean;
	  } & Identity);

/** A developer token or customer key (not anonymous, not admin). */
export type TokenPrincipal = Extract<Principal, { kind: "developer" | "customer" }>;

export const TOKEN_PREFIXES: Record<TokenKind, string> = { developer: "dev_", customer: "blk_", admin: "adm_" };

const TOKEN_CACHE_MS = 30_000;
const TOKEN_CACHE_MAX = 10_000;
const tokenCache = new Map<string, { record: TokenRecord | null; until: number }>();

/** The client's address, as Cloudflare (and Miniflare) report it; null when unknown. */
export function clientIp(request: Request): string | null {
	return request.headers.get("cf-connecting-ip");
}

/**
 * Resolves the Authorization header. A token that is present but wrong is a 401 (never
 * anonymous); failed authentications and anonymous requests count against per-IP limits, and
 * customer keys against the per-IP customer limit.
 */
export async function authenticate(request: Request, env: Env): Promise<Principal> {
	const ip = clientIp(request);
	const header = request.headers.get("authorization");
	if (header === null || header.trim() === "") {
		await limitAnonymous(env, ip);
		return { kind: "anonymous", ip };
	}
	const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
	if (!token) return failed(request, env, ip, null, "authorization must be a Bearer token");

	if (env.ADMIN_TOKEN && (await timingSafeEqualText(token, env.ADMIN_TOKEN))) {
		return { kind: "admin", ip, username: "admin", tokenId: null, prefix: null, email: null };
	}
	const kind = kindOfToken(token);
	if (kind === null) return failed(request, env, ip, null, "invalid token: tokens start with dev_, blk_ or adm_");
	const record = await lookupToken(env, await sha256Hex(token));
	const prefix = token.slice(0, TOKEN_PREFIXES[kind].length + 8);
	if (record === null || record.kind !== kind || expired(record)) {
		return failed(request, env, ip, prefix, "invalid, expired or revoked token");
	}
	if (record.cidr !== null && !allowedFrom(record.cidr, ip)) {
		throw forbidden(`this token cannot be used from ${ip ?? "an unknown address"}`);
	}
	const identity = {
		username: record.user ?? record.name,
		tokenId: record.id,
		prefix: record.prefix,
		email: record.email,
	};
	if (record.kind === "admin") return { kind: "admin", ip, ...identity };
	if (record.kind === "customer") await limitCustomer(env, ip);
	return {
		kind: record.kind,
		ip,
		...identity,
		tokenId: record.id,
		prefix: record.prefix,
		user: record.user,
		grants: record.grants,
		totp: record.totp,
		bypassTwoFactor: record.bypassTwoFactor,
	};
}

/** A failed authentication: counted per IP (429 past the limit), audited when it tried to write. */
async function failed(
	request: Request,
	env: Env,
	ip: string | null,
	prefix: string | null,
	message: string,
): Promise<never> {
	await limitFailedAuthentication(env, ip);
	if (request.method !== "GET" && request.method !== "HEAD") {
		const path = new URL(request.url).pathname;
		await authStore(env).audit({ name: "anonymous", prefix, ip, label: "anonymous" }, "auth.failed", path, {
			method: request.method,
		});
	}
	throw unauthorized(message);
}

/** Checked here too: a record cached before its expiry must not outlive it. */
function expired(record: TokenRecord): boolean {
	return record.expiresAt !== null && Date.parse(record.expiresAt) <= Date.now();
}

function kindOfToken(token: string): TokenKind | null {
	for (const [kind, prefix] of Object.entries(TOKEN_PREFIXES) as [TokenKind, string][]) {
		if (token.startsWith(prefix) && token.length > prefix.length + 16) return kind;
	}
	return null;
}

async function lookupToken(env: Env, hash: string): Promise<TokenRecord | null> {
	const now = Date.now();
	const cached = tokenCache.get(hash);
	if (cached && cached.until > now) return cached.record;
	const record = await tokenObject(env, hash).get();
	if (tokenCache.size >= TOKEN_CACHE_MAX) tokenCache.clear();
	tokenCache.set(hash, { record, until: now + TOKEN_CACHE_MS });
	return record;
}

/** Drops a token from this isolate's cache, so a change to it applies here immediately. */
export function forgetToken(hash: string): void {
	tokenCache.delete(hash);
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

function covers(grant: Grant, pkg: PackageName): boolean {
	return "package" in grant ? grant.package === pkg.name : grant.scope === pkg.scope;
}

/** Whether the principal holds a permission on a package. Any grant on a package lets its holder read it. */
export function can(principal: Principal, pkg: PackageName, permission: Permission): boolean {
	switch (principal.kind) {
		case "anonymous":
			return false;
		case "admin":
			return true;
		case "customer":
			return permission === "read" && principal.grants.some((g) => covers(g, pkg));
		case "developer":
			return principal.grants.some(
				(g) => covers(g, pkg) && (permission === "read" || g.permissions.includes(permission)),
			);
	}
}

type PackageRead = { found: false } | { found: true; access: "public" | "restricted" };

/**
 * The token check and a read from the package's object, in parallel. A package that does not
 * exist, or that the caller may not read, is a 404 either way.
 */
export async function authorizeRead<R extends PackageRead>(
	request: Request,
	env: Env,
	pkg: PackageName,
	/** An async function, so that the stub's union of promises becomes one promise of a union. */
	read: (stub: ReturnType<typeof packageObject>) => Promise<R>,
): Promise<{ principal: Principal; result: Extract<R, { found: true }> }> {
	const [principal, result] = await Promise.all([authenticate(request, env), read(packageObject(env, pkg))]);
	if (!result.found) throw notFound();
	assertCanRead(principal, pkg, result.access);
	return { principal, result: result as Extract<R, { found: true }> };
}

/** Reads of a restricted package: without a grant it does not exist (404), so nothing leaks. */
export function assertCanRead(principal: Principal, pkg: PackageName, access: "public" | "restricted"): void {
	if (access === "public" || can(principal, pkg, "read")) return;
	throw notFound();
}

/**
 * Writes: 401 without a token. A token with no grant at all on the package gets 404 whether the
 * package is restricted or does not exist yet (as the npm registry answers a publish to a scope
 * you do not own), so a restricted package never reveals itself; otherwise a missing permission is 403.
 * `access` is null when the package does not exist.
 */
export function assertCan(
	principal: Principal,
	pkg: PackageName,
	permissions: Permission[],
	access: "public" | "restricted" | null,
): void {
	if (principal.kind === "anonymous") throw unauthorized("you must be logged in to change packages");
	const missing = permissions.filter((p) => !can(principal, pkg, p));
	if (missing.length === 0) return;
	if (access !== "public" && !can(principal, pkg, "read")) {
		throw notFound(`${pkg.name} not found, or this token has no grant on it`);
	}
	if (principal.kind === "customer") throw forbidden("customer keys are read-only");
	throw forbidden(`this token lacks ${missing.join(" and ")} permission on ${pkg.name}`);
}

export function assertAdmin(principal: Principal): asserts principal is Extract<Principal, { kind: "admin" }> {
	if (principal.kind === "anonymous") throw unauthorized("the admin API needs the admin token");
	if (principal.kind !== "admin") throw new HttpError("forbidden", "the admin API needs the admin token");
}

/** Who did it, for history rows and the audit trail: the user (or token name) and the token prefix. */
export function actorOf(principal: Principal): Actor {
	if (principal.kind === "anonymous") return { name: "anonymous", prefix: null, ip: principal.ip, label: "anonymous" };
	const label = principal.prefix ? `${principal.username} (${principal.prefix})` : principal.username;
	return {
		name: principal.username,
		...(principal.email ? { email: principal.email } : {}),
		prefix: principal.prefix,
		ip: principal.ip,
		label,
	};
}

/**
 * The token check and the package lookup of a write, in parallel; then the permission check and,
 * where the user, the scope or the package asks for it, the second factor.
 */
export async function authorizeWrite(request: Request, env: Env, pkg: PackageName, permissions: Permission[]) {
	const [principal, info] = await Promise.all([authenticate(request, env), packageObject(env, pkg).info()]);
	assertCan(principal, pkg, permissions, info.exists ? info.access : null);
	await assertSecondFactor(request, env, principal, pkg, info.exists && info.requireTwoFactor);
	return { principal, info };
}
