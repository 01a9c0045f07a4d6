import type { GrantHolder, NewToken, TokenListing } from "../../schema/auth/contract";
import type { TokenRow } from "../../schema/auth/rows";
import type { Grant } from "../../schema/requests/admin";

// The token table of the AuthStoreDO: one row per token ever created, by id, with its SHA-256 (never
// the token), its listed prefix, and a version bumped on every change to what it may do.

export class Tokens {
	constructor(
		private readonly sql: SqlStorage,
		private readonly grantsOf: (holder: GrantHolder, id: string) => Grant[],
	) {}

	insert(input: NewToken, now: string): TokenRow {
		return this.sql
			.exec<TokenRow>(
				`INSERT INTO tokens (id, hash, prefix, kind, name, user_name, customer, origin, created_at, expires_at, cidr,
					readonly, restrict_to, bypass_two_factor, trusted_publisher)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
				crypto.randomUUID(),
				input.hash,
				input.prefix,
				input.kind,
				input.name,
				input.user ?? null,
				input.customer ?? null,
				input.origin ?? "admin",
				now,
				input.expiresAt ?? null,
				input.cidr ? JSON.stringify(input.cidr) : null,
				input.readonly ? 1 : 0,
				input.restrictTo ? JSON.stringify(input.restrictTo) : null,
				input.bypassTwoFactor ? 1 : 0,
				input.trustedPublisher ? JSON.stringify(input.trustedPublisher) : null,
			)
			.one();
	}

	/** A token that still works (not revoked), by id. */
	live(id: string): TokenRow | null {
		const row = this.sql.exec<TokenRow>(`SELECT * FROM tokens WHERE id = ?`, id).toArray()[0];
		return row && row.revoked_at === null ? row : null;
	}

	liveByHash(hash: string): TokenRow | null {
		return (
			this.sql.exec<TokenRow>(`SELECT * FROM tokens WHERE hash = ? AND revoked_at IS NULL`, hash).toArray()[0] ?? null
		);
	}

	/** Any token by id, revoked or not: what its TokenDO must be told. */
	any(id: string): TokenRow | null {
		return this.sql.exec<TokenRow>(`SELECT * FROM tokens WHERE id = ?`, id).toArray()[0] ?? null;
	}

	list(filter: { user?: string; customer?: string }): TokenRow[] {
		return this.sql
			.exec<TokenRow>(
				`SELECT * FROM tokens WHERE revoked_at IS NULL
				 AND (?1 IS NULL OR user_name = ?1) AND (?2 IS NULL OR customer = ?2) ORDER BY created_at, id`,
				filter.user ?? null,
				filter.customer ?? null,
			)
			.toArray();
	}

	/** Ids of the live tokens of a user or a customer: a change to either reaches all of them. */
	idsOf(holder: { user: string } | { customer: string }): string[] {
		const [column, value] = "user" in holder ? ["user_name", holder.user] : ["customer", holder.customer];
		return this.sql
			.exec<{ id: string }>(`SELECT id FROM tokens WHERE ${column} = ? AND revoked_at IS NULL`, value)
			.toArray()
			.map((row) => row.id);
	}

	countOfCustomer(customer: string): number {
		return this.sql
			.exec<{ n: number }>(`SELECT count(*) AS n FROM tokens WHERE customer = ? AND revoked_at IS NULL`, customer)
			.one().n;
	}

	/**
	 * Retires trusted publishers' tokens a day past their expiry (they stopped working at it), so
	 * that the one a CI gets for every publish does not pile up in listings; answers their ids.
	 */
	retireExpiredTrusted(now: string): string[] {
		const dayAgo = new Date(Date.parse(now) - 86_400_000).toISOString();
		return this.sql
			.exec<{ id: string }>(
				`UPDATE tokens SET revoked_at = ? WHERE origin = 'oidc' AND revoked_at IS NULL AND expires_at < ? RETURNING id`,
				now,
				dayAgo,
			)
			.toArray()
			.map((row) => row.id);
	}

	revoke(id: string, now: string): void {
		this.sql.exec(`UPDATE tokens SET revoked_at = ? WHERE id = ?`, now, id);
	}

	replaceSecret(id: string, hash: string, prefix: string): void {
		this.sql.exec(`UPDATE tokens SET hash = ?, prefix = ? WHERE id = ?`, hash, prefix, id);
	}

	/** Bumps the version of what the token may do; answers its current hash and the new version. */
	bumpVersion(id: string): { hash: string; version: number } {
		return this.sql
			.exec<{ hash: string; version: number }>(
				`UPDATE tokens SET version = version + 1 WHERE id = ? RETURNING hash, version`,
				id,
			)
			.one();
	}

	used(id: string, at: string): void {
		this.sql.exec(`UPDATE tokens SET last_used_at = max(coalesce(last_used_at, ''), ?) WHERE id = ?`, at, id);
	}

	listing(row: TokenRow): TokenListing {
		return {
			id: row.id,
			prefix: row.prefix,
			kind: row.kind,
			name: row.name,
			user: row.user_name,
			customer: row.customer,
			origin: row.origin,
			grants: this.grantsOf("token", row.id),
			// A customer key only ever reads, whatever it was created with (#24.6).
			readonly: row.readonly === 1 || row.kind === "customer",
			cidr: row.cidr === null ? null : (JSON.parse(row.cidr) as string[]),
			createdAt: row.created_at,
			expiresAt: row.expires_at,
			lastUsedAt: row.last_used_at,
		};
	}
}
