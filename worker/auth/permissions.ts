import type { Actor } from "../../schema/audit";
import type { PackageName } from "../../schema/names";
import type { Access } from "../../schema/package/contract";
import type { Grant, Permission } from "../../schema/requests/admin";
import { refused } from "../refusals";
import { PUBLISHER_NAMES } from "../trust/trusted-token";
import type { Principal } from "./principal";

// What a principal may do with a package, and how refusals look: a restricted package that the
// caller may not read does not exist for it (404), so nothing about it leaks.

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

export function mayRead(principal: Principal, pkg: PackageName, access: Access): boolean {
	return access === "public" || can(principal, pkg, "read");
}

/** Reads of a restricted package: without a grant it does not exist (404), so nothing leaks. */
export function assertCanRead(principal: Principal, pkg: PackageName, access: Access): void {
	if (!mayRead(principal, pkg, access)) throw refused.hidden();
}

/**
 * Writes: 401 without a token. A token with no grant at all on the package gets the same 403,
 * naming the grant it lacks, whether the package is restricted or does not exist yet, so a
 * restricted package never reveals itself; otherwise a missing permission is 403 too.
 * `access` is null when the package does not exist.
 */
export function assertCan(
	principal: Principal,
	pkg: PackageName,
	permissions: Permission[],
	access: Access | null,
): void {
	if (principal.kind === "anonymous") throw refused.logIn("changePackages");
	const missing = permissions.filter((p) => !can(principal, pkg, p));
	if (missing.length === 0) return;
	if (principal.kind === "customer") throw refused.customerReadOnly();
	if (access !== "public" && !can(principal, pkg, "read")) {
		throw refused.noGrant(missing, pkg.name, pkg.scope);
	}
	throw refused.lacksPermission(missing, pkg.name);
}

export function assertAdmin(principal: Principal): asserts principal is Extract<Principal, { kind: "admin" }> {
	if (principal.kind === "anonymous") throw refused.logIn("admin");
	if (principal.kind !== "admin") throw refused.adminOnly();
}

/** Who did it, for history rows and the audit trail: the user (or token name) and the token prefix. */
export function actorOf(principal: Principal): Actor {
	if (principal.kind === "anonymous") return { name: "anonymous", prefix: null, ip: principal.ip, label: "anonymous" };
	const label = principal.prefix ? `${principal.name} (${principal.prefix})` : principal.name;
	const trusted = principal.kind === "developer" ? principal.trustedPublisher : null;
	const email = trusted ? PUBLISHER_NAMES[trusted.provenance.provider].email : principal.email;
	return {
		name: principal.name,
		...(email ? { email } : {}),
		prefix: principal.prefix,
		ip: principal.ip,
		label,
		...(trusted ? { trustedPublisher: trusted.provenance } : {}),
	};
}
