import { DurableObject } from "cloudflare:workers";
import type { Grant, TokenKind } from "../schema/admin";
import { tokenMigrations } from "../schema/token";
import { authStore } from "../worker/objects";
import { applyMigrations } from "./migrations";

// One object per token (idFromName(sha256 of the token)): what the hot path needs to know about a
// token, so that checking one never touches a registry-wide object. The AuthStoreDO owns tokens
// and pushes each change here (revocation, grants, suspension) before it answers; the Worker
// reads this through a per-isolate cache of at most 30 seconds.

/** Everything a request needs to know about the token it carries. */
export type TokenRecord = {
	id: string;
	kind: TokenKind;
	prefix: string;
	name: string;
	/** The user the token acts for (npm login, npm token create), if any. */
	user: string | null;
	email: string | null;
	customer: string | null;
	/** Effective grants: the token's own and its user's, narrowed by its restrictions. */
	grants: Grant[];
	expiresAt: string | null;
	/** CIDR ranges the token may be used from; null: anywhere. */
	cidr: string[] | null;
	/** The token's user has TOTP enabled: writes need a code from it. */
	totp: boolean;
	/** Created by its user (with a code) to skip two-factor prompts, e.g. for CI. */
	bypassTwoFactor: boolean;
	createdAt: string;
};

const REPORT_USE_EVERY_MS = 5 * 60_000;

export class TokenDO extends DurableObject<Env> {
	private lastUse: number | null = null;
	private lastReport = 0;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		ctx.blockConcurrencyWhile(async () => {
			applyMigrations(ctx.storage, tokenMigrations);
		});
	}

	/** Stores the record (null: the token no longer works) unless a newer version is already here. */
	put(record: TokenRecord | null, version: number): boolean {
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

	/** The token's record, or null when it is unknown, revoked, suspended or expired. */
	get(): TokenRecord | null {
		const row = this.ctx.storage.sql.exec<{ record: string | null }>(`SELECT record FROM token`).toArray()[0];
		if (!row?.record) return null;
		const record = JSON.parse(row.record) as TokenRecord;
		const now = Date.now();
		if (record.expiresAt !== null && Date.parse(record.expiresAt) <= now) return null;
		this.lastUse = now;
		if (now - this.lastReport >= REPORT_USE_EVERY_MS) {
			this.lastReport = now;
			void this.ctx.storage.setAlarm(now + 1_000);
		}
		return record;
	}

	/** Tells the AuthStoreDO when the token was last used (for listings), off the request path. */
	override async alarm(): Promise<void> {
		const row = this.ctx.storage.sql.exec<{ record: string | null }>(`SELECT record FROM token`).toArray()[0];
		if (!row?.record || this.lastUse === null) return;
		const { id } = JSON.parse(row.record) as TokenRecord;
		await authStore(this.env).tokenUsed(id, new Date(this.lastUse).toISOString());
	}
}
