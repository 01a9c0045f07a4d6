import type { Actor, AuditEntry, AuditFilter } from "../schema/audit";
import { LIMITS } from "../schema/limits";

// The audit trail, kept by two owners: each package object records the changes to its package,
// the AuthStoreDO records registry-level events (tokens, grants, users, failed authentications).
// Rows are written inside the same transaction as the change they describe. An audit row never
// holds a secret: anything shaped like one of the registry's tokens is cut to its listed prefix,
// and free text is capped, whoever wrote it.

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
		scrub(actor.name, LIMITS.auditTarget),
		actor.prefix,
		actor.ip,
		target === null ? null : scrub(target, LIMITS.auditTarget),
		detail === null ? null : JSON.stringify(scrubbed(detail)),
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
	if (filter.actions !== undefined && filter.actions.length > 0) {
		where.push(`action IN (${filter.actions.map(() => "?").join(", ")})`);
		params.push(...filter.actions);
	}
	return sql
		.exec<AuditEntry>(
			`SELECT * FROM audit ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`,
			...params,
			filter.limit ?? 500,
		)
		.toArray();
}

/** A token (dev_…, blk_…, adm_… with its secret) keeps its listed prefix only. */
const TOKEN = /\b(dev|blk|adm)_([0-9a-f]{8})[0-9a-f]+/g;

function scrub(text: string, max: number): string {
	const redacted = text.replace(TOKEN, "$1_$2…");
	return redacted.length > max ? `${redacted.slice(0, max)}…` : redacted;
}

/** The detail with every string scrubbed, cut to a bounded size as a whole. */
function scrubbed(detail: Record<string, unknown>): unknown {
	const text = JSON.stringify(detail, (_key, value: unknown) =>
		typeof value === "string" ? scrub(value, LIMITS.auditTarget) : value,
	);
	return text.length > LIMITS.auditDetail ? { truncated: text.slice(0, LIMITS.auditDetail) } : JSON.parse(text);
}
