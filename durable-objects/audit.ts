import type { Actor, AuditEntry, AuditFilter } from "../schema/audit";

// The audit trail, kept by two owners: each package object records the changes to its package,
// the AuthStoreDO records registry-level events (tokens, grants, users, failed authentications).
// Rows are written inside the same transaction as the change they describe.

export function recordAudit(
	sql: SqlStorage,
	actor: Actor,
	action: string,
	target: string | null,
	detail: Record<string, unknown> | null = null,
): void {
	sql.exec(
		`INSERT INTO audit (at, action, actor, prefix, ip, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		new Date().toISOString(),
		action,
		actor.name,
		actor.prefix,
		actor.ip,
		target,
		detail === null ? null : JSON.stringify(detail),
	);
}

/** Newest first; `actor` matches the user/token name or the token prefix. */
export function queryAudit(sql: SqlStorage, filter: AuditFilter): AuditEntry[] {
	const where: string[] = [];
	const params: (string | number)[] = [];
	if (filter.actor !== undefined) {
		where.push("(actor = ? OR prefix = ?)");
		params.push(filter.actor, filter.actor);
	}
	if (filter.target !== undefined) {
		where.push("target = ?");
		params.push(filter.target);
	}
	if (filter.since !== undefined) {
		where.push("at >= ?");
		params.push(filter.since);
	}
	return sql
		.exec<AuditEntry>(
			`SELECT * FROM audit ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`,
			...params,
			filter.limit ?? 500,
		)
		.toArray();
}
