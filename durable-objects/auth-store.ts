import { DurableObject } from "cloudflare:workers";
import type { Grant, Permission, TokenKind } from "../schema/admin";
import { authStoreMigrations } from "../schema/auth-store";
import { type Result, refuse } from "../worker/errors";
import { applyMigrations } from "./migrations";

// Users, tokens and grants for the whole registry. Only hashes cross into this object: the Worker
// generates a token, shows it once and sends its SHA-256 here; it hashes passwords itself too. The
// Worker reads token records through a short-lived cache, so this object is not on the hot path.

export type TokenRecord = {
	id: string;
	prefix: string;
	kind: TokenKind;
	name: string;
	user: string | null;
	email: string | null;
	grants: Grant[];
	createdAt: string;
	expiresAt: string | null;
	lastUsedAt: string | null;
};

export type NewToken = {
	hash: string;
	prefix: string;
	kind: TokenKind;
	name: string;
	user?: string;
	grants: Grant[];
	expiresAt?: string;
};

export type UserCredentials = { name: string; hash: string; salt: string; iterations: number };

export type NewUser = {
	name: string;
	email?: string;
	passwordHash: string;
	salt: string;
	iterations: number;
	grants: Grant[];
};

type TokenRow = {
	id: string;
	hash: string;
	prefix: string;
	kind: TokenKind;
	name: string;
	user_name: string | null;
	created_at: string;
	expires_at: string | null;
	revoked_at: string | null;
	last_used_at: string | null;
	email: string | null;
};

type GrantRow = { subject_kind: "package" | "scope"; subject: string; permissions: string };

export class AuthStoreDO extends DurableObject<Env> {
	private readonly sql: SqlStorage;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		ctx.blockConcurrencyWhile(async () => {
			applyMigrations(ctx.storage, authStoreMigrations);
		});
	}

	createToken(input: NewToken): Result<{ record: TokenRecord }> {
		return this.ctx.storage.transactionSync(() => {
			if (input.user !== undefined && !this.userExists(input.user)) {
				return refuse("notFound", `user ${input.user} does not exist`);
			}
			const id = crypto.randomUUID();
			this.sql.exec(
				`INSERT INTO tokens (id, hash, prefix, kind, name, user_name, created_at, expires_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				id,
				input.hash,
				input.prefix,
				input.kind,
				input.name,
				input.user ?? null,
				new Date().toISOString(),
				input.expiresAt ?? null,
			);
			this.replaceGrants("token", id, input.grants);
			const row = this.tokenRow("t.id = ?", id);
			if (!row) return refuse("internal", "token was not stored");
			return { ok: true, record: this.toRecord(row) };
		});
	}

	/** The live record of a token, or null when it is unknown, revoked or expired. */
	verifyToken(hash: string): TokenRecord | null {
		const row = this.tokenRow("t.hash = ? AND t.revoked_at IS NULL", hash);
		if (!row) return null;
		const now = new Date().toISOString();
		if (row.expires_at !== null && row.expires_at <= now) return null;
		this.sql.exec(`UPDATE tokens SET last_used_at = ? WHERE id = ?`, now, row.id);
		return this.toRecord(row);
	}

	listTokens(): TokenRecord[] {
		return this.sql
			.exec<TokenRow>(
				`SELECT t.*, u.email FROM tokens t LEFT JOIN users u ON u.name = t.user_name
				 WHERE t.revoked_at IS NULL ORDER BY t.created_at, t.id`,
			)
			.toArray()
			.map((row) => this.toRecord(row));
	}

	/** Revokes a token by id (admin API) and returns its hash so caches can drop it at once. */
	revokeToken(id: string): Result<{ hash: string }> {
		const row = this.tokenRow("t.id = ? AND t.revoked_at IS NULL", id);
		if (!row) return refuse("notFound", `token ${id} does not exist`);
		this.sql.exec(`UPDATE tokens SET revoked_at = ? WHERE id = ?`, new Date().toISOString(), id);
		return { ok: true, hash: row.hash };
	}

	/** Revokes a token by its hash (npm logout sends the token itself). */
	revokeTokenByHash(hash: string): boolean {
		const row = this.tokenRow("t.hash = ? AND t.revoked_at IS NULL", hash);
		if (!row) return false;
		this.sql.exec(`UPDATE tokens SET revoked_at = ? WHERE id = ?`, new Date().toISOString(), row.id);
		return true;
	}

	createUser(input: NewUser): Result<{ name: string; email: string | null; grants: Grant[] }> {
		return this.ctx.storage.transactionSync(() => {
			if (this.userExists(input.name)) return refuse("conflict", `user ${input.name} already exists`);
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
			this.replaceGrants("user", input.name, input.grants);
			return { ok: true, name: input.name, email: input.email ?? null, grants: this.grantsOf("user", input.name) };
		});
	}

	userCredentials(name: string): UserCredentials | null {
		const row = this.sql
			.exec<{ name: string; password_hash: string; password_salt: string; password_iterations: number }>(
				`SELECT name, password_hash, password_salt, password_iterations FROM users WHERE name = ?`,
				name,
			)
			.toArray()[0];
		return row
			? { name: row.name, hash: row.password_hash, salt: row.password_salt, iterations: row.password_iterations }
			: null;
	}

	private userExists(name: string): boolean {
		return this.sql.exec(`SELECT 1 FROM users WHERE name = ?`, name).toArray().length > 0;
	}

	private tokenRow(where: string, value: string): TokenRow | null {
		return (
			this.sql
				.exec<TokenRow>(
					`SELECT t.*, u.email FROM tokens t LEFT JOIN users u ON u.name = t.user_name WHERE ${where}`,
					value,
				)
				.toArray()[0] ?? null
		);
	}

	/** A token's grants: its own, plus those of the user it acts for. */
	private toRecord(row: TokenRow): TokenRecord {
		const grants = [
			...this.grantsOf("token", row.id),
			...(row.user_name === null ? [] : this.grantsOf("user", row.user_name)),
		];
		return {
			id: row.id,
			prefix: row.prefix,
			kind: row.kind,
			name: row.name,
			user: row.user_name,
			email: row.email,
			grants,
			createdAt: row.created_at,
			expiresAt: row.expires_at,
			lastUsedAt: row.last_used_at,
		};
	}

	private grantsOf(holderKind: "token" | "user", holder: string): Grant[] {
		return this.sql
			.exec<GrantRow>(
				`SELECT subject_kind, subject, permissions FROM grants WHERE holder_kind = ? AND holder = ? ORDER BY subject`,
				holderKind,
				holder,
			)
			.toArray()
			.map((g) => {
				const permissions = g.permissions.split(",") as Permission[];
				return g.subject_kind === "package" ? { package: g.subject, permissions } : { scope: g.subject, permissions };
			});
	}

	private replaceGrants(holderKind: "token" | "user", holder: string, grants: Grant[]): void {
		this.sql.exec(`DELETE FROM grants WHERE holder_kind = ? AND holder = ?`, holderKind, holder);
		for (const grant of grants) {
			const [subjectKind, subject] = "package" in grant ? ["package", grant.package] : ["scope", grant.scope];
			this.sql.exec(
				`INSERT INTO grants (holder_kind, holder, subject_kind, subject, permissions) VALUES (?, ?, ?, ?, ?)
				 ON CONFLICT DO UPDATE SET permissions = excluded.permissions`,
				holderKind,
				holder,
				subjectKind,
				subject,
				[...new Set(grant.permissions)].join(","),
			);
		}
	}
}
