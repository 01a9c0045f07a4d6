import { DurableObject } from "cloudflare:workers";
import * as OTPAuth from "otpauth";
import type { Grant, TokenKind } from "../schema/admin";
import { authStoreMigrations } from "../schema/auth-store";
import { type Result, refuse } from "../worker/errors";
import { tokenObject } from "../worker/objects";
import { type Actor, type AuditEntry, type AuditFilter, queryAudit, recordAudit } from "./audit";
import { effectiveGrants, type GrantSubject, Grants, type Restriction } from "./auth/grants";
import { applyMigrations } from "./migrations";
import type { TokenRecord } from "./token";
import { transact } from "./transaction";

// The admin plane of access control, one object for the registry (idFromName("auth")): users,
// tokens, customers, grants, two-factor settings and the registry-level audit log. Only hashes
// reach it: the Worker generates tokens and hashes passwords itself. It is not on the hot path:
// every change to what a token may do is pushed to that token's own TokenDO (drained before the
// change is acknowledged, retried on the alarm if a push fails), and requests read those.

/** A token as the admin API and `npm token list` show it: never the secret or its hash. */
export type TokenListing = {
	id: string;
	prefix: string;
	kind: TokenKind;
	name: string;
	user: string | null;
	customer: string | null;
	origin: "admin" | "login" | "npm";
	grants: Grant[];
	readonly: boolean;
	cidr: string[] | null;
	createdAt: string;
	expiresAt: string | null;
	lastUsedAt: string | null;
};

export type NewToken = {
	hash: string;
	prefix: string;
	kind: TokenKind;
	name: string;
	origin?: "admin" | "login" | "npm";
	user?: string;
	customer?: string;
	grants: Grant[];
	expiresAt?: string;
	cidr?: string[];
	readonly?: boolean;
	restrictTo?: Restriction;
	bypassTwoFactor?: boolean;
};

export type UserView = { name: string; email: string | null; grants: Grant[]; twoFactor: boolean; createdAt: string };
export type UserCredentials = { name: string; hash: string; salt: string; iterations: number };
export type NewUser = {
	name: string;
	email?: string;
	passwordHash: string;
	salt: string;
	iterations: number;
	grants: Grant[];
};
export type CustomerView = { name: string; active: boolean; createdAt: string; keys: number };

type TokenRow = {
	id: string;
	hash: string;
	prefix: string;
	kind: TokenKind;
	name: string;
	user_name: string | null;
	customer: string | null;
	origin: "admin" | "login" | "npm";
	created_at: string;
	expires_at: string | null;
	revoked_at: string | null;
	last_used_at: string | null;
	cidr: string | null;
	readonly: number;
	restrict_to: string | null;
	bypass_two_factor: number;
	version: number;
};

type UserRow = {
	name: string;
	email: string | null;
	password_hash: string;
	password_salt: string;
	password_iterations: number;
	created_at: string;
	totp_secret: string | null;
	totp_last_step: number | null;
};

const TOTP = { issuer: "registry", algorithm: "SHA1", digits: 6, period: 30 } as const;

export class AuthStoreDO extends DurableObject<Env> {
	private readonly sql: SqlStorage;
	private readonly grants: Grants;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		this.grants = new Grants(this.sql);
		ctx.blockConcurrencyWhile(async () => {
			applyMigrations(ctx.storage, authStoreMigrations);
			if (this.sql.exec(`SELECT 1 FROM token_pushes LIMIT 1`).toArray().length > 0) {
				await ctx.storage.setAlarm(Date.now());
			}
		});
	}

	// ── tokens ─────────────────────────────────────────────────────────────────────────────────

	async createToken(input: NewToken, actor: Actor): Promise<Result<{ token: TokenListing }>> {
		const result = this.transact(() => {
			if (input.user !== undefined && !this.user(input.user))
				return refuse("notFound", `user ${input.user} does not exist`);
			if (input.customer !== undefined && !this.customerRow(input.customer)) {
				return refuse("notFound", `customer ${input.customer} does not exist`);
			}
			const id = crypto.randomUUID();
			this.sql.exec(
				`INSERT INTO tokens (id, hash, prefix, kind, name, user_name, customer, origin, created_at, expires_at, cidr,
					readonly, restrict_to, bypass_two_factor)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				id,
				input.hash,
				input.prefix,
				input.kind,
				input.name,
				input.user ?? null,
				input.customer ?? null,
				input.origin ?? "admin",
				new Date().toISOString(),
				input.expiresAt ?? null,
				input.cidr ? JSON.stringify(input.cidr) : null,
				input.readonly ? 1 : 0,
				input.restrictTo ? JSON.stringify(input.restrictTo) : null,
				input.bypassTwoFactor ? 1 : 0,
			);
			this.grants.replace("token", id, input.grants);
			this.queuePush(id);
			recordAudit(this.sql, actor, "token.create", input.prefix, {
				kind: input.kind,
				name: input.name,
				user: input.user,
			});
			return { ok: true, token: this.listing(this.tokenRow(id) as TokenRow) };
		});
		return this.settle(result);
	}

	getToken(id: string): TokenListing | null {
		const row = this.tokenRow(id);
		return row && row.revoked_at === null ? this.listing(row) : null;
	}

	listTokens(filter: { user?: string; customer?: string } = {}): TokenListing[] {
		const rows = this.sql
			.exec<TokenRow>(
				`SELECT * FROM tokens WHERE revoked_at IS NULL
				 AND (?1 IS NULL OR user_name = ?1) AND (?2 IS NULL OR customer = ?2) ORDER BY created_at, id`,
				filter.user ?? null,
				filter.customer ?? null,
			)
			.toArray();
		return rows.map((row) => this.listing(row));
	}

	/** Revokes a token by id; `owner` limits it to one user's tokens (npm token revoke). */
	async revokeToken(id: string, actor: Actor, owner?: string): Promise<Result<{ hash: string }>> {
		const result = this.transact(() => {
			const row = this.tokenRow(id);
			if (!row || row.revoked_at !== null || (owner !== undefined && row.user_name !== owner)) {
				return refuse("notFound", `token ${id} does not exist`);
			}
			this.sql.exec(`UPDATE tokens SET revoked_at = ? WHERE id = ?`, new Date().toISOString(), id);
			this.queuePush(id);
			recordAudit(this.sql, actor, "token.revoke", row.prefix, null);
			return { ok: true, hash: row.hash };
		});
		return this.settle(result);
	}

	/** npm logout and npm token revoke {token}: revokes the token with this hash. */
	async revokeTokenByHash(hash: string, actor: Actor, owner?: string): Promise<boolean> {
		const row = this.sql
			.exec<TokenRow>(`SELECT * FROM tokens WHERE hash = ? AND revoked_at IS NULL`, hash)
			.toArray()[0];
		if (!row) return false;
		return (await this.revokeToken(row.id, actor, owner)).ok;
	}

	/** A new secret for the same token; the old one stops working at once. */
	async rotateToken(
		id: string,
		hash: string,
		prefix: string,
		actor: Actor,
	): Promise<Result<{ token: TokenListing; oldHash: string }>> {
		const result = this.transact(() => {
			const row = this.tokenRow(id);
			if (!row || row.revoked_at !== null) return refuse("notFound", `token ${id} does not exist`);
			const version = row.version + 1;
			this.sql.exec(`UPDATE tokens SET hash = ?, prefix = ?, version = ? WHERE id = ?`, hash, prefix, version, id);
			this.queueHash(row.hash, id, version);
			this.queueHash(hash, id, version);
			recordAudit(this.sql, actor, "token.rotate", prefix, { previous: row.prefix });
			return { ok: true, token: this.listing(this.tokenRow(id) as TokenRow), oldHash: row.hash };
		});
		return this.settle(result);
	}

	async grantToken(id: string, grant: Grant, actor: Actor): Promise<Result<{ token: TokenListing; hashes: string[] }>> {
		const result = this.transact(() => {
			const row = this.tokenRow(id);
			if (!row || row.revoked_at !== null) return refuse("notFound", `token ${id} does not exist`);
			if (row.kind === "customer" && grant.permissions.some((p) => p !== "read")) {
				return refuse("unprocessable", "customer keys are read-only: grant them read only");
			}
			this.grants.set("token", id, grant);
			this.queuePush(id);
			recordAudit(this.sql, actor, "token.grant", row.prefix, { grant });
			return { ok: true, token: this.listing(this.tokenRow(id) as TokenRow), hashes: [row.hash] };
		});
		return this.settle(result);
	}

	async ungrantToken(
		id: string,
		subject: GrantSubject,
		actor: Actor,
	): Promise<Result<{ token: TokenListing; hashes: string[] }>> {
		const result = this.transact(() => {
			const row = this.tokenRow(id);
			if (!row || row.revoked_at !== null) return refuse("notFound", `token ${id} does not exist`);
			if (!this.grants.remove("token", id, subject)) return refuse("notFound", "the token has no such grant");
			this.queuePush(id);
			recordAudit(this.sql, actor, "token.ungrant", row.prefix, { subject });
			return { ok: true, token: this.listing(this.tokenRow(id) as TokenRow), hashes: [row.hash] };
		});
		return this.settle(result);
	}

	/** Reported by a TokenDO, at most every few minutes per token. */
	tokenUsed(id: string, at: string): void {
		this.sql.exec(`UPDATE tokens SET last_used_at = max(coalesce(last_used_at, ''), ?) WHERE id = ?`, at, id);
	}

	// ── users ──────────────────────────────────────────────────────────────────────────────────

	async createUser(input: NewUser, actor: Actor): Promise<Result<{ user: UserView }>> {
		return this.transact(() => {
			if (this.user(input.name)) return refuse("conflict", `user ${input.name} already exists`);
			this.sql.exec(
				`INSERT INTO users (name, email, password_hash, password_salt, password_iterations, created_at)
				 VALUES (?, ?, ?, ?, ?, ?)`,
				input.name,
				input.email ?? null,
				input.passwordHash,
				input.salt,
				input.iterations,
				new Date().toISOString(),
			);
			this.grants.replace("user", input.name, input.grants);
			recordAudit(this.sql, actor, "user.create", input.name, { grants: input.grants });
			return { ok: true, user: this.userView(this.user(input.name) as UserRow) };
		});
	}

	getUser(name: string): UserView | null {
		const row = this.user(name);
		return row ? this.userView(row) : null;
	}

	listUsers(): UserView[] {
		return this.sql
			.exec<UserRow>(`SELECT * FROM users ORDER BY name`)
			.toArray()
			.map((row) => this.userView(row));
	}

	userCredentials(name: string): UserCredentials | null {
		const row = this.user(name);
		return row
			? { name: row.name, hash: row.password_hash, salt: row.password_salt, iterations: row.password_iterations }
			: null;
	}

	async grantUser(name: string, grant: Grant, actor: Actor): Promise<Result<{ user: UserView; hashes: string[] }>> {
		const result = this.transact(() => {
			if (!this.user(name)) return refuse("notFound", `user ${name} does not exist`);
			this.grants.set("user", name, grant);
			const hashes = this.queueUserTokens(name);
			recordAudit(this.sql, actor, "user.grant", name, { grant });
			return { ok: true, user: this.userView(this.user(name) as UserRow), hashes };
		});
		return this.settle(result);
	}

	async ungrantUser(
		name: string,
		subject: GrantSubject,
		actor: Actor,
	): Promise<Result<{ user: UserView; hashes: string[] }>> {
		const result = this.transact(() => {
			if (!this.user(name)) return refuse("notFound", `user ${name} does not exist`);
			if (!this.grants.remove("user", name, subject)) return refuse("notFound", "the user has no such grant");
			const hashes = this.queueUserTokens(name);
			recordAudit(this.sql, actor, "user.ungrant", name, { subject });
			return { ok: true, user: this.userView(this.user(name) as UserRow), hashes };
		});
		return this.settle(result);
	}

	/** Turns TOTP on (with a fresh secret, returned once as an otpauth:// URI) or off. */
	async setTotp(
		name: string,
		enable: boolean,
		actor: Actor,
	): Promise<Result<{ otpauth: string | null; hashes: string[] }>> {
		const result = this.transact(() => {
			if (!this.user(name)) return refuse("notFound", `user ${name} does not exist`);
			const secret = enable ? new OTPAuth.Secret({ size: 20 }).base32 : null;
			this.sql.exec(`UPDATE users SET totp_secret = ?, totp_last_step = NULL WHERE name = ?`, secret, name);
			const hashes = this.queueUserTokens(name);
			recordAudit(this.sql, actor, enable ? "user.totp.enable" : "user.totp.disable", name, null);
			const otpauth = secret === null ? null : new OTPAuth.TOTP({ ...TOTP, label: name, secret }).toString();
			return { ok: true, otpauth, hashes };
		});
		return this.settle(result);
	}

	/**
	 * Checks a TOTP code of a user (one step of clock drift either way). A code is accepted once:
	 * the step it belongs to must be later than the last step accepted.
	 */
	verifyTotp(name: string, code: string): "valid" | "invalid" | "replayed" | "notEnabled" {
		const row = this.user(name);
		if (!row?.totp_secret) return "notEnabled";
		const totp = new OTPAuth.TOTP({ ...TOTP, label: name, secret: row.totp_secret });
		const delta = /^\d{6}$/.test(code) ? totp.validate({ token: code, window: 1 }) : null;
		if (delta === null) return "invalid";
		const step = Math.floor(Date.now() / 1000 / TOTP.period) + delta;
		if (row.totp_last_step !== null && step <= row.totp_last_step) return "replayed";
		this.sql.exec(`UPDATE users SET totp_last_step = ? WHERE name = ?`, step, name);
		return "valid";
	}

	/** npm access ls-collaborators: users whose grants cover the package. */
	collaborators(name: string, scope: string | null): Record<string, "read-write" | "read-only"> {
		const result: Record<string, "read-write" | "read-only"> = {};
		for (const [user, permissions] of this.grants.usersCovering(name, scope)) {
			result[user] = permissions.some((p) => p !== "read") ? "read-write" : "read-only";
		}
		return result;
	}

	// ── customers and scopes ───────────────────────────────────────────────────────────────────

	createCustomer(name: string, actor: Actor): Result<{ customer: CustomerView }> {
		return this.transact(() => {
			if (this.customerRow(name)) return refuse("conflict", `customer ${name} already exists`);
			this.sql.exec(
				`INSERT INTO customers (name, active, created_at) VALUES (?, 1, ?)`,
				name,
				new Date().toISOString(),
			);
			recordAudit(this.sql, actor, "customer.create", name, null);
			return { ok: true, customer: this.customerView(name) as CustomerView };
		});
	}

	listCustomers(): CustomerView[] {
		return this.sql
			.exec<{ name: string }>(`SELECT name FROM customers ORDER BY name`)
			.toArray()
			.map((c) => this.customerView(c.name) as CustomerView);
	}

	/** Suspends (or reactivates) every key of a customer at once. */
	async setCustomerActive(
		name: string,
		active: boolean,
		actor: Actor,
	): Promise<Result<{ customer: CustomerView; hashes: string[] }>> {
		const result = this.transact(() => {
			if (!this.customerRow(name)) return refuse("notFound", `customer ${name} does not exist`);
			this.sql.exec(`UPDATE customers SET active = ? WHERE name = ?`, active ? 1 : 0, name);
			const hashes = this.sql
				.exec<{ id: string }>(`SELECT id FROM tokens WHERE customer = ? AND revoked_at IS NULL`, name)
				.toArray()
				.map(({ id }) => this.queuePush(id));
			recordAudit(this.sql, actor, active ? "customer.activate" : "customer.suspend", name, null);
			return { ok: true, customer: this.customerView(name) as CustomerView, hashes };
		});
		return this.settle(result);
	}

	setScopePolicy(scope: string, requireTwoFactor: boolean, actor: Actor): { scope: string; requireTwoFactor: boolean } {
		this.ctx.storage.transactionSync(() => {
			this.sql.exec(
				`INSERT INTO scopes (scope, require_two_factor) VALUES (?, ?)
				 ON CONFLICT (scope) DO UPDATE SET require_two_factor = excluded.require_two_factor`,
				scope,
				requireTwoFactor ? 1 : 0,
			);
			recordAudit(this.sql, actor, "scope.policy", scope, { requireTwoFactor });
		});
		return { scope, requireTwoFactor };
	}

	scopePolicy(scope: string): { requireTwoFactor: boolean } {
		const row = this.sql
			.exec<{ require_two_factor: number }>(`SELECT require_two_factor FROM scopes WHERE scope = ?`, scope)
			.toArray()[0];
		return { requireTwoFactor: row?.require_two_factor === 1 };
	}

	// ── audit ──────────────────────────────────────────────────────────────────────────────────

	/** Registry-level events the Worker observes, such as failed authentications on writes. */
	audit(actor: Actor, action: string, target: string | null, detail: Record<string, unknown> | null): void {
		recordAudit(this.sql, actor, action, target, detail);
	}

	auditLog(filter: AuditFilter): AuditEntry[] {
		return queryAudit(this.sql, filter);
	}

	// ── pushing token records ──────────────────────────────────────────────────────────────────

	/** Retries pushes that failed when their change was made. */
	override async alarm(): Promise<void> {
		await this.drainPushes();
	}

	/** Bumps a token's version and queues its current hash for a push; returns the hash. */
	private queuePush(id: string): string {
		const row = this.sql
			.exec<{ hash: string; version: number }>(
				`UPDATE tokens SET version = version + 1 WHERE id = ? RETURNING hash, version`,
				id,
			)
			.one();
		this.queueHash(row.hash, id, row.version);
		return row.hash;
	}

	private queueHash(hash: string, id: string, version: number): void {
		this.sql.exec(
			`INSERT INTO token_pushes (hash, token_id, version) VALUES (?, ?, ?)
			 ON CONFLICT (hash) DO UPDATE SET token_id = excluded.token_id, version = excluded.version`,
			hash,
			id,
			version,
		);
	}

	private queueUserTokens(user: string): string[] {
		return this.sql
			.exec<{ id: string }>(`SELECT id FROM tokens WHERE user_name = ? AND revoked_at IS NULL`, user)
			.toArray()
			.map(({ id }) => this.queuePush(id));
	}

	/** Pushes every queued record to its TokenDO; what fails stays queued for the alarm. */
	private async drainPushes(): Promise<void> {
		const queued = this.sql
			.exec<{ hash: string; token_id: string; version: number }>(`SELECT * FROM token_pushes`)
			.toArray();
		const outcomes = await Promise.allSettled(
			queued.map(async (push) => {
				await tokenObject(this.env, push.hash).put(this.recordFor(push.token_id, push.hash), push.version);
				this.sql.exec(`DELETE FROM token_pushes WHERE hash = ? AND version = ?`, push.hash, push.version);
			}),
		);
		const failed = outcomes.filter((o) => o.status === "rejected");
		if (failed.length > 0) {
			console.error(`${failed.length} token pushes failed; retrying`, failed[0]);
			await this.ctx.storage.setAlarm(Date.now() + 5_000);
		}
	}

	/** Waits for the pushes of a committed change: the change is in force when this returns. */
	private async settle<R extends { ok: boolean }>(result: R): Promise<R> {
		if (result.ok) await this.drainPushes();
		return result;
	}

	/** What the TokenDO for `hash` should hold: null unless it is the token's live hash. */
	private recordFor(id: string, hash: string): TokenRecord | null {
		const row = this.tokenRow(id);
		if (!row || row.hash !== hash || row.revoked_at !== null) return null;
		if (row.customer !== null && this.customerRow(row.customer)?.active !== 1) return null;
		const user = row.user_name === null ? null : this.user(row.user_name);
		const all = [...this.grants.of("token", id), ...(user ? this.grants.of("user", user.name) : [])];
		const restriction = row.restrict_to === null ? null : (JSON.parse(row.restrict_to) as Restriction);
		return {
			id: row.id,
			kind: row.kind,
			prefix: row.prefix,
			name: row.name,
			user: row.user_name,
			email: user?.email ?? null,
			customer: row.customer,
			grants: effectiveGrants(all, restriction, row.readonly === 1 || row.kind === "customer"),
			expiresAt: row.expires_at,
			cidr: row.cidr === null ? null : (JSON.parse(row.cidr) as string[]),
			totp: user?.totp_secret != null,
			bypassTwoFactor: row.bypass_two_factor === 1,
			createdAt: row.created_at,
		};
	}

	// ── rows ───────────────────────────────────────────────────────────────────────────────────

	private transact<T>(write: () => Result<T>): Result<T> {
		return transact(this.ctx.storage, write);
	}

	private tokenRow(id: string): TokenRow | null {
		return this.sql.exec<TokenRow>(`SELECT * FROM tokens WHERE id = ?`, id).toArray()[0] ?? null;
	}

	private user(name: string): UserRow | null {
		return this.sql.exec<UserRow>(`SELECT * FROM users WHERE name = ?`, name).toArray()[0] ?? null;
	}

	private customerRow(name: string): { name: string; active: number; created_at: string } | null {
		return (
			this.sql
				.exec<{ name: string; active: number; created_at: string }>(`SELECT * FROM customers WHERE name = ?`, name)
				.toArray()[0] ?? null
		);
	}

	private customerView(name: string): CustomerView | null {
		const row = this.customerRow(name);
		if (!row) return null;
		const keys = this.sql
			.exec<{ n: number }>(`SELECT count(*) AS n FROM tokens WHERE customer = ? AND revoked_at IS NULL`, name)
			.one().n;
		return { name: row.name, active: row.active === 1, createdAt: row.created_at, keys };
	}

	private listing(row: TokenRow): TokenListing {
		return {
			id: row.id,
			prefix: row.prefix,
			kind: row.kind,
			name: row.name,
			user: row.user_name,
			customer: row.customer,
			origin: row.origin,
			grants: this.grants.of("token", row.id),
			readonly: row.readonly === 1,
			cidr: row.cidr === null ? null : (JSON.parse(row.cidr) as string[]),
			createdAt: row.created_at,
			expiresAt: row.expires_at,
			lastUsedAt: row.last_used_at,
		};
	}

	private userView(row: UserRow): UserView {
		return {
			name: row.name,
			email: row.email,
			grants: this.grants.of("user", row.name),
			twoFactor: row.totp_secret !== null,
			createdAt: row.created_at,
		};
	}
}
