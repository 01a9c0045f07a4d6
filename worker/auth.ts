import type { TokenRecord } from "../durable-objects/auth-store";
import type { Grant, Permission, TokenKind } from "../schema/admin";
import { forbidden, HttpError, notFound, unauthorized } from "./errors";
import { randomHex, sha256Hex, timingSafeEqualText } from "./lib/crypto";
import type { PackageName } from "./lib/package-name";
import { authStore, packageObject } from "./objects";

// Who is asking, and what they may do. Tokens are looked up by their SHA-256 in the AuthStoreDO
// through a per-isolate cache, so a token check costs a Map lookup on the hot path; revoking
// through this isolate drops the entry at once, other isolates forget it within TOKEN_CACHE_MS.

export type Principal =
	| { kind: "anonymous" }
	| { kind: "admin"; username: string; tokenId: string | null; prefix: string | null; email: null }
	| {
			kind: "developer" | "customer";
			username: string;
			tokenId: string;
			prefix: string;
			email: string | null;
			grants: Grant[];
	  };

export const TOKEN_PREFIXES: Record<TokenKind, string> = { developer: "dev_", customer: "blk_", admin: "adm_" };

const TOKEN_CACHE_MS = 30_000;
const TOKEN_CACHE_MAX = 10_000;
const tokenCache = new Map<string, { record: TokenRecord | null; until: number }>();

export const anonymous: Principal = { kind: "anonymous" };

/** Resolves the Authorization header; a token that is present but wrong is a 401, never anonymous. */
export async function authenticate(request: Request, env: Env): Promise<Principal> {
	const header = request.headers.get("authorization");
	if (header === null || header.trim() === "") return anonymous;
	const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
	if (!match?.[1]) throw unauthorized("authorization must be a Bearer token");
	const token = match[1];

	if (env.ADMIN_TOKEN && (await timingSafeEqualText(token, env.ADMIN_TOKEN))) {
		return { kind: "admin", username: "admin", tokenId: null, prefix: null, email: null };
	}
	const kind = kindOfToken(token);
	if (kind === null) throw unauthorized("invalid token: tokens start with dev_, blk_ or adm_");
	const record = await lookupToken(env, await sha256Hex(token));
	if (record === null || record.kind !== kind) throw unauthorized("invalid, expired or revoked token");
	if (record.kind === "admin") {
		return { kind: "admin", username: record.name, tokenId: record.id, prefix: record.prefix, email: null };
	}
	return {
		kind: record.kind,
		username: record.user ?? record.name,
		tokenId: record.id,
		prefix: record.prefix,
		email: record.email,
		grants: record.grants,
	};
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
	const record = await authStore(env).verifyToken(hash);
	if (tokenCache.size >= TOKEN_CACHE_MAX) tokenCache.clear();
	tokenCache.set(hash, { record, until: now + TOKEN_CACHE_MS });
	return record;
}

/** Drops a revoked token from this isolate's cache so it stops working here immediately. */
export function forgetToken(hash: string): void {
	tokenCache.delete(hash);
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
			if (permission !== "read") return false;
			return principal.grants.some((g) => covers(g, pkg));
		case "developer":
			return principal.grants.some(
				(g) => covers(g, pkg) && (permission === "read" || g.permissions.includes(permission)),
			);
	}
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

export function assertAdmin(principal: Principal): void {
	if (principal.kind === "anonymous") throw unauthorized("the admin API needs the admin token");
	if (principal.kind !== "admin") throw new HttpError("forbidden", "the admin API needs the admin token");
}

/** The name shown for a principal in history rows and audit entries: the user, else the token prefix. */
export function actorOf(principal: Principal): { name: string; email?: string; label: string } {
	if (principal.kind === "anonymous") return { name: "anonymous", label: "anonymous" };
	const label = principal.prefix ? `${principal.username} (${principal.prefix})` : principal.username;
	return principal.email
		? { name: principal.username, email: principal.email, label }
		: { name: principal.username, label };
}

/** The token check and the package lookup of a write, in parallel; then the permission check. */
export async function authorizeWrite(request: Request, env: Env, pkg: PackageName, permissions: Permission[]) {
	const [principal, info] = await Promise.all([authenticate(request, env), packageObject(env, pkg).info()]);
	assertCan(principal, pkg, permissions, info.exists ? info.access : null);
	return { principal, info };
}
