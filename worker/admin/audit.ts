import type { AuditEntry, AuditFilter } from "../../schema/audit";
import { authStore } from "../auth/auth-store";
import { can } from "../auth/permissions";
import { admin, settleRead, signedIn } from "../guards";
import { json, type RouteRequest } from "../http";
import { packageStub } from "../objects";
import { packageName, packageNameFromParams } from "../params";
import { refused } from "../refusals";

// The audit trail: package-level events live in each package's object, registry-level events
// (tokens, grants, users, customers, failed authentications) in the AuthStoreDO.

function filterOf(request: RouteRequest): AuditFilter {
	const { actor, since, limit } = request.query;
	const filter: AuditFilter = {};
	if (typeof actor === "string" && actor !== "") filter.actor = actor;
	if (typeof since === "string" && since !== "") {
		const time = Date.parse(since);
		if (Number.isNaN(time)) throw refused.badAuditSince();
		filter.since = new Date(time).toISOString();
	}
	if (typeof limit === "string") {
		const n = Number(limit);
		if (!Number.isInteger(n) || n < 1 || n > 1000) throw refused.badAuditLimit();
		filter.limit = n;
	}
	return filter;
}

/** GET /-/admin/audit?package=&actor=&since=&limit=: a package's events, or the registry's. */
export const adminAudit = admin({ auth: "admin", cache: "none" }, async ({ request, env }) => {
	const filter = filterOf(request);
	const { package: name } = request.query;
	if (typeof name === "string" && name !== "") {
		const pkg = packageName(name);
		const result = await packageStub(env, pkg.name).auditLog(filter);
		if (!result.ok) throw refused.hidden();
		return json({ package: pkg.name, entries: present(result.value.entries) });
	}
	return json({ entries: present(await authStore(env).auditLog(filter)) });
});

/** GET /packages/{name}/audit: for admins and for those who may publish the package. */
export const packageAudit = signedIn(
	{ auth: "signedIn", cache: "personal" },
	"readAudit",
	async ({ request, env, principal }) => {
		const pkg = packageNameFromParams(request.params);
		const { entries, live } = settleRead(principal, pkg, await packageStub(env, pkg.name).auditLog(filterOf(request)));
		if (!can(principal, pkg, "publish")) {
			// A package whose every version was unpublished no longer exists for anyone but its publishers.
			if (!live) throw refused.hidden();
			throw refused.auditForPublishers();
		}
		return json({ package: pkg.name, entries: present(entries) });
	},
);

function present(entries: AuditEntry[]) {
	return entries.map((entry) => ({ ...entry, detail: entry.detail === null ? null : JSON.parse(entry.detail) }));
}
