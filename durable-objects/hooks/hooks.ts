import { DurableObject } from "cloudflare:workers";
import type { DumpCursor, HookRows, RestoredRows } from "../../schema/backup/contract";
import { config } from "../../schema/config";
import { ok, type Result } from "../../schema/errors";
import type { DeliveryReport, HookSubject, HookTarget, HookType, HookView } from "../../schema/hooks/contract";
import { hooksMigrations } from "../../schema/hooks/migrations";
import { refusals } from "../../schema/refusals";
import { seal, unseal } from "../auth/sealing";
import { applyMigrations } from "../migrations";
import { transact } from "../transaction";
import { exportHooks, restoreHooks } from "./export";

// The registry's package hooks (npm's hook API): one object for the registry, asked when a hook
// is added, listed or changed, and by a package object's alarm when it has events to deliver
// (which hooks match the package now, with their secrets). Never on a read's path.

/** Most hooks one user may hold, as npm's registry limited them. */
export const HOOKS_PER_USER = 100;

type HookRow = {
	id: string;
	username: string;
	type: HookType;
	name: string;
	endpoint: string;
	secret: string;
	created_at: string;
	updated_at: string;
	delivered: number;
	last_delivery: string | null;
	response_code: number | null;
	failures: number;
};

export class HooksDO extends DurableObject<Env> {
	private readonly sql: SqlStorage;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		applyMigrations(ctx.storage, hooksMigrations);
	}

	async create(input: {
		username: string;
		type: HookType;
		name: string;
		endpoint: string;
		secret: string;
	}): Promise<Result<HookView>> {
		const held = this.sql
			.exec<{ n: number }>(`SELECT count(*) AS n FROM hooks WHERE username = ?`, input.username)
			.one();
		if (held.n >= HOOKS_PER_USER) return refusals.tooManyHooks(HOOKS_PER_USER);
		const now = new Date().toISOString();
		const id = crypto.randomUUID();
		const secret = await this.sealed(input.secret);
		this.sql.exec(
			`INSERT INTO hooks (id, username, type, name, endpoint, secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			id,
			input.username,
			input.type,
			input.name,
			input.endpoint,
			secret,
			now,
			now,
		);
		return ok(this.view(id));
	}

	/** A user's hooks (every hook for `username` null: the admin), optionally those on one package or scope name. */
	list(filter: { username: string | null; name?: string }): HookView[] {
		const rows = this.sql
			.exec<HookRow>(
				`SELECT * FROM hooks WHERE (?1 IS NULL OR username = ?1) AND (?2 IS NULL OR name = ?2) ORDER BY created_at, id`,
				filter.username,
				filter.name ?? null,
			)
			.toArray();
		return rows.map(present);
	}

	get(id: string): Result<HookView> {
		const row = this.row(id);
		return row ? ok(present(row)) : refusals.hookNotFound(id);
	}

	async update(id: string, change: { endpoint: string; secret: string }): Promise<Result<HookView>> {
		if (!this.row(id)) return refusals.hookNotFound(id);
		const secret = await this.sealed(change.secret);
		this.sql.exec(
			`UPDATE hooks SET endpoint = ?, secret = ?, updated_at = ? WHERE id = ?`,
			change.endpoint,
			secret,
			new Date().toISOString(),
			id,
		);
		return ok(this.view(id));
	}

	remove(id: string): Result<HookView> {
		const row = this.row(id);
		if (!row) return refusals.hookNotFound(id);
		this.sql.exec(`DELETE FROM hooks WHERE id = ?`, id);
		return ok(present(row));
	}

	/** The hooks a package's events go to now: on its name, on its scope, on one of its maintainers. */
	async matching(subject: HookSubject): Promise<HookTarget[]> {
		const owners = subject.maintainers.slice(0, 100);
		const rows = this.sql
			.exec<HookRow>(
				`SELECT * FROM hooks WHERE (type = 'package' AND name = ?) OR (type = 'scope' AND name = ?)
				 OR (type = 'owner' AND name IN (SELECT value FROM json_each(?)))`,
				subject.name,
				subject.scope ?? "",
				JSON.stringify(owners),
			)
			.toArray();
		return Promise.all(
			rows.map(async (r) => ({
				id: r.id,
				username: r.username,
				endpoint: r.endpoint,
				secret: await this.opened(r.secret),
			})),
		);
	}

	/** How delivery attempts ended: each hook shows its last status and the failures since its last success. */
	report(reports: DeliveryReport[]): void {
		this.ctx.storage.transactionSync(() => {
			for (const r of reports) {
				if (r.ok) {
					this.sql.exec(
						`UPDATE hooks SET delivered = 1, last_delivery = ?, response_code = ?, failures = 0 WHERE id = ?`,
						r.at,
						r.status,
						r.id,
					);
				} else {
					this.sql.exec(
						`UPDATE hooks SET last_delivery = ?, response_code = ?, failures = failures + 1 WHERE id = ?`,
						r.at,
						r.status,
						r.id,
					);
				}
			}
		});
	}

	// ── export and restore (export.ts) ──────────────────────────────────────────────────────────

	exportRows(cursor: DumpCursor): Promise<{ item: HookRows; next: DumpCursor | null }> {
		const key = config(this.env).encryptionKey;
		// The Worker answers 503 for every route before an object is asked while a secret is missing.
		if (key === null) throw new Error("ENCRYPTION_KEY is not configured");
		return exportHooks(this.sql, key, cursor);
	}

	/** Adds the hooks not here (by id), one page in one transaction; the ones here stay as they are. */
	restoreRows(item: HookRows): Result<RestoredRows> {
		return transact(this.ctx.storage, () => restoreHooks(this.sql, item));
	}

	/** Secrets are kept sealed under ENCRYPTION_KEY (as TOTP seeds are): a copy of the database reveals none. */
	private async sealed(secret: string): Promise<string> {
		const key = config(this.env).encryptionKey;
		return key === null ? secret : seal(key, secret);
	}

	private async opened(stored: string): Promise<string> {
		const key = config(this.env).encryptionKey;
		return key === null ? stored : unseal(key, stored);
	}

	private row(id: string): HookRow | null {
		return this.sql.exec<HookRow>(`SELECT * FROM hooks WHERE id = ?`, id).toArray()[0] ?? null;
	}

	private view(id: string): HookView {
		const row = this.row(id);
		if (!row) throw new Error(`hook ${id} vanished inside its own write`);
		return present(row);
	}
}

function present(row: HookRow): HookView {
	return {
		id: row.id,
		username: row.username,
		type: row.type,
		name: row.name,
		endpoint: row.endpoint,
		created: row.created_at,
		updated: row.updated_at,
		delivered: row.delivered === 1,
		last_delivery: row.last_delivery,
		response_code: row.response_code,
		failures: row.failures,
		status: "active",
	};
}
