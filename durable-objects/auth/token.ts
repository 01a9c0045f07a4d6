import { DurableObject } from "cloudflare:workers";
import type { TokenContract, TokenRecord } from "../../schema/auth/contract";
import { tokenMigrations } from "../../schema/auth/token-migrations";
import { ok } from "../../schema/errors";
import { refusals } from "../../schema/refusals";
import { Schema } from "../migrations";
import { authStoreObject } from "../stubs";

// One object per token (idFromName(sha256 of the token)): what the hot path needs to know about a
// token, so that checking one never touches a registry-wide object. The AuthStoreDO owns tokens
// and pushes each change here (revocation, grants, suspension) before it answers; the Worker
// reads this through a per-isolate cache of at most 30 seconds.

const REPORT_USE_EVERY_MS = 5 * 60_000;

export class TokenDO extends DurableObject<Env> implements TokenContract {
	private lastUse: number | null = null;
	private lastReport = 0;
	/** Created by the first push: looking up a token nobody issued creates no storage. */
	private readonly schema: Schema;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.schema = new Schema(ctx.storage, tokenMigrations);
	}

	put(record: TokenRecord | null, version: number): boolean {
		this.schema.ensure();
		const current = this.ctx.storage.sql.exec<{ version: number }>(`SELECT version FROM token`).toArray()[0];
		if (current && current.version > version) return false;
		this.ctx.storage.sql.exec(
			`INSERT INTO token (singleton, version, record) VALUES (1, ?, ?)
			 ON CONFLICT (singleton) DO UPDATE SET version = excluded.version, record = excluded.record`,
			version,
			record === null ? null : JSON.stringify(record),
		);
		return true;
	}

	get() {
		const record = this.record();
		const now = Date.now();
		if (record === null || (record.expiresAt !== null && Date.parse(record.expiresAt) <= now)) {
			return refusals.tokenNotFound("with that secret");
		}
		this.lastUse = now;
		if (now - this.lastReport >= REPORT_USE_EVERY_MS) {
			this.lastReport = now;
			void this.ctx.storage.setAlarm(now + 1_000);
		}
		return ok(record);
	}

	endSession(id: string, expires: number): void {
		this.schema.ensure();
		const now = Math.floor(Date.now() / 1000);
		// Rows of sessions past their expiry are dead weight: a cookie that old is refused anyway.
		this.ctx.storage.sql.exec(`DELETE FROM ended_sessions WHERE expires <= ?`, now);
		this.ctx.storage.sql.exec(`INSERT OR IGNORE INTO ended_sessions (id, expires) VALUES (?, ?)`, id, expires);
	}

	sessionEnded(id: string): boolean {
		if (!this.schema.ready) return false;
		return this.ctx.storage.sql.exec(`SELECT 1 FROM ended_sessions WHERE id = ?`, id).toArray().length > 0;
	}

	/** Tells the AuthStoreDO when the token was last used (for listings), off the request path. */
	override async alarm(): Promise<void> {
		const record = this.record();
		if (record === null || this.lastUse === null) return;
		await authStoreObject(this.env).tokenUsed(record.id, new Date(this.lastUse).toISOString());
	}

	private record(): TokenRecord | null {
		if (!this.schema.ready) return null;
		const row = this.ctx.storage.sql.exec<{ record: string | null }>(`SELECT record FROM token`).toArray()[0];
		return row?.record ? (JSON.parse(row.record) as TokenRecord) : null;
	}
}
