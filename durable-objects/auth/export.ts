import {
	type AuthRows,
	DUMP_PAGE_BYTES,
	DUMP_PAGE_ROWS,
	type DumpCursor,
	type RestoredRows,
	type Row,
} from "../../schema/backup/contract";
import { ok, type Result } from "../../schema/errors";
import { refusals } from "../../schema/refusals";
import { schemaVersion } from "../schema-version";
import { dumpTables, insertRows, type TableSpec } from "../table-dump";
import { isSealed, seal } from "./sealing";

// The auth store's state for the export archive, and its restore (schema/backup/contract.ts):
// users (password hashes, TOTP seeds sealed under ENCRYPTION_KEY), tokens as their SHA-256,
// grants, customers, scope policies, settings and the registry audit log. Pending token pushes,
// failed-credential windows and upstream figures are the registry's own bookkeeping and stay.
// Rows already here are kept as they are: a restore adds what is missing and overwrites nothing.

/** Restore order: grants before the tokens whose records (pushed to their TokenDOs) carry them. */
export const AUTH_TABLES: readonly TableSpec[] = [
	{ name: "customers", order: "name" },
	{ name: "users", order: "name" },
	{ name: "grants", order: "holder_kind, holder, subject_kind, subject" },
	{ name: "scopes", order: "scope" },
	{ name: "settings", order: "name" },
	// Orgs after the users their members are, teams after their org (schema/auth/migrations.ts 7).
	{ name: "orgs", order: "name" },
	{ name: "org_members", order: "org, user_name" },
	{ name: "teams", order: "org, name" },
	{ name: "team_members", order: "org, team, user_name" },
	{ name: "team_grants", order: "org, team, subject_kind, subject" },
	{ name: "trusted_publishers", order: "id" },
	// Each restored token is pushed to its TokenDO: a page's pushes stay far below 1,000 subrequests.
	{ name: "tokens", order: "id", pageRows: 400 },
	{ name: "audit", order: "id" },
];

/**
 * The auth store's tables that stay behind, and why (tests/export-coverage.test.ts holds every
 * table of the schema to being exported or named here).
 */
export const AUTH_TABLES_KEPT_BACK: Readonly<Record<string, string>> = {
	token_pushes: "pending pushes to TokenDOs: a restore pushes every restored token itself",
	credential_failures: "failed-credential windows: minutes of rate-limit bookkeeping",
	upstream_figures: "counters of the upstream proxy: figures of this instance",
	exchanged_id_tokens: "CI ID tokens already exchanged: each expires within minutes",
	staged_versions: "the index of staged versions: their bytes are not exported, they expire in STAGE_TTL_DAYS",
};

const TABLE_NAMES = AUTH_TABLES.map((t) => t.name);

/** One page of the auth store's rows; a TOTP seed stored before sealing existed is sealed on its way out. */
export async function exportAuth(
	sql: SqlStorage,
	encryptionKey: string,
	cursor: DumpCursor,
): Promise<{ item: AuthRows; next: DumpCursor | null }> {
	const page = dumpTables(sql, AUTH_TABLES, cursor, { bytes: DUMP_PAGE_BYTES, rows: DUMP_PAGE_ROWS });
	for (const { table, rows } of page.tables) {
		if (table !== "users") continue;
		for (const row of rows) {
			const seed = row.totp_secret;
			if (typeof seed === "string" && !isSealed(seed)) row.totp_secret = await seal(encryptionKey, seed);
		}
	}
	return {
		item: { kind: "auth", schema: schemaVersion(sql), tables: page.tables, final: page.next === null },
		next: page.next,
	};
}

/**
 * Writes a page of the auth store's rows that are not here yet. The audit log is appended to
 * (its entries get ids of this store), leaving out entries it already has. Answers the tokens
 * whose records must be pushed: every token of the page that is here now with the same secret.
 */
export function restoreAuth(
	sql: SqlStorage,
	item: AuthRows,
): Result<{ restored: RestoredRows; tokens: { id: string; hash: string; version: number }[] }> {
	const here = schemaVersion(sql);
	if (item.schema > here) return refusals.restoreNewerSchema("the auth store", item.schema, here);
	const tables = item.tables.map(({ table, rows }) =>
		table === "audit" ? { table, rows: rows.filter((row) => !auditHas(sql, row)).map(withoutId) } : { table, rows },
	);
	const restored = insertRows(sql, TABLE_NAMES, tables);
	if (!restored.ok) return restored;
	const tokens = tables
		.filter((t) => t.table === "tokens")
		.flatMap((t) => t.rows)
		.flatMap((row) => {
			const here = sql
				.exec<{ id: string; hash: string; version: number }>(
					`SELECT id, hash, version FROM tokens WHERE id = ? AND hash = ? AND revoked_at IS NULL`,
					row.id ?? null,
					row.hash ?? null,
				)
				.toArray();
			return here;
		});
	return ok({ restored: restored.value, tokens });
}

function withoutId(row: Row): Row {
	const { id: _id, ...rest } = row;
	return rest;
}

function auditHas(sql: SqlStorage, row: Row): boolean {
	return (
		sql
			.exec(
				`SELECT 1 FROM audit WHERE at IS ? AND action IS ? AND actor IS ? AND target IS ? AND detail IS ? LIMIT 1`,
				row.at ?? null,
				row.action ?? null,
				row.actor ?? null,
				row.target ?? null,
				row.detail ?? null,
			)
			.toArray().length > 0
	);
}
