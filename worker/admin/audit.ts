import type { AuditEntry, AuditFilter } from "../../durable-objects/audit";
import { authenticate, can } from "../auth";
import { badRequest, forbidden, notFound, unauthorized } from "../errors";
import { json, type RouteRequest } from "../http";
import { packageNameFromParams, parsePackageName } from "../lib/package-name";
import { authStore, packageObject } from "../objects";
import { requireAdmin } from "./guard";

// The audit trail: package-level events live in each package's object, registry-level events
// (tokens, grants, users, customers, failed authentications) in the AuthStoreDO.

function filterOf(request: RouteRequest): AuditFilter {
	const { actor, since, limit } = request.query;
	const filter: AuditFilter = {};
	if (typeof actor === "string" && actor !== "") filter.actor = actor;
	if (typeof since === "string" && since !== "") {
		const time = Date.parse(since);
		if (Number.isNaN(time)) throw badRequest("since must be a date or an ISO 8601 timestamp");
		filter.since = new Date(time).toISOString();
	}
	if (typeof limit === "string") {
		const n = Number(limit);
		if (!Number.isInteger(n) || n < 1 || n > 1000) throw badRequest("limit must be an integer from 1 to 1000");
		filter.limit = n;
	}
	return filter;
}

/** GET /-/admin/audit?package=&actor=&since=&limit=: a package's events, or the registry's. */
export async function adminAudit(request: RouteRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	const filter = filterOf(request);
	const { package: name } = request.query;
	if (typeof name === "string" && name !== "") {
		const pkg = parsePackageName(name);
		const result = await packageObject(env, pkg).auditLog(filter);
		if (!result.found) throw notFound();
		return json({ package: pkg.name, entries: present(result.entries) });
	}
	return json({ entries: present(await authStore(env).auditLog(filter)) });
}

/** GET /packages/{name}/audit: for admins and for those who may publish the package. */
export async function packageAudit(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const [principal, result] = await Promise.all([
		authenticate(request, env),
		packageObject(env, pkg).auditLog(filterOf(request)),
	]);
	if (principal.kind === "anonymous") throw unauthorized("log in to read the audit trail");
	if (!result.found || (result.access === "restricted" && !can(principal, pkg, "read"))) throw notFound();
	if (!can(principal, pkg, "publish")) throw forbidden("the audit trail is for the package's publishers");
	return json(
		{ package: pkg.name, entries: present(result.entries) },
		{ headers: { "cache-control": "private, no-cache" } },
	);
}

function present(entries: AuditEntry[]) {
	return entries.map((entry) => ({ ...entry, detail: entry.detail === null ? null : JSON.parse(entry.detail) }));
}
