import type { OidcProvider } from "../../schema/config";
import type {
	NewTrust,
	StagedVersion,
	TrustClaims,
	TrustConfiguration,
	TrustPermission,
} from "../../schema/trust/contract";

// The AuthStoreDO's tables for trusted publishing: each package's trust configurations (npm
// trust), the ID tokens already exchanged (each is exchanged once), and the index of staged
// versions by id (npm stage names no package; the versions live in their package's object).

type TrustRow = {
	id: string;
	package: string;
	type: OidcProvider;
	claims: string;
	permissions: string;
	created_at: string;
	created_by: string;
};

export class TrustedPublishers {
	constructor(private readonly sql: SqlStorage) {}

	of(pkg: string): TrustConfiguration[] {
		return this.sql
			.exec<TrustRow>(`SELECT * FROM trusted_publishers WHERE package = ? ORDER BY created_at, id`, pkg)
			.toArray()
			.map((row) => ({
				id: row.id,
				type: row.type,
				claims: JSON.parse(row.claims) as TrustClaims,
				permissions: JSON.parse(row.permissions) as TrustPermission[],
				createdAt: row.created_at,
				createdBy: row.created_by,
			}));
	}

	add(pkg: string, trust: NewTrust, by: string, now: string): string {
		const id = crypto.randomUUID();
		this.sql.exec(
			`INSERT INTO trusted_publishers (id, package, type, claims, permissions, created_at, created_by)
			 VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id,
			pkg,
			trust.type,
			JSON.stringify(trust.claims),
			JSON.stringify([...new Set(trust.permissions)]),
			now,
			by,
		);
		return id;
	}

	/** Whether the package had a configuration with this id. */
	remove(pkg: string, id: string): TrustConfiguration | null {
		const found = this.of(pkg).find((config) => config.id === id) ?? null;
		if (found) this.sql.exec(`DELETE FROM trusted_publishers WHERE id = ? AND package = ?`, id, pkg);
		return found;
	}

	count(pkg: string): number {
		return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM trusted_publishers WHERE package = ?`, pkg).one().n;
	}

	/** Remembers an exchanged ID token until it expires (epoch seconds); false if it was exchanged before. */
	rememberExchange(key: string, expires: number, now: number): boolean {
		this.sql.exec(`DELETE FROM exchanged_id_tokens WHERE expires < ?`, now);
		const seen = this.sql.exec(`SELECT 1 FROM exchanged_id_tokens WHERE key = ?`, key).toArray().length > 0;
		if (seen) return false;
		this.sql.exec(`INSERT INTO exchanged_id_tokens (key, expires) VALUES (?, ?)`, key, expires);
		return true;
	}
}

export class StagedIndex {
	constructor(private readonly sql: SqlStorage) {}

	add(item: StagedVersion): void {
		this.sql.exec(
			`INSERT INTO staged_versions (id, package, version, item, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
			item.id,
			item.packageName,
			item.version,
			JSON.stringify(item),
			item.createdAt,
			item.expiresAt,
		);
	}

	get(id: string, now: string): StagedVersion | null {
		const row = this.sql
			.exec<{ item: string }>(`SELECT item FROM staged_versions WHERE id = ? AND expires_at > ?`, id, now)
			.toArray()[0];
		return row ? (JSON.parse(row.item) as StagedVersion) : null;
	}

	/** Live entries, oldest first, of one package or of all (the Worker keeps those the caller may see). */
	list(pkg: string | null, now: string, limit: number): StagedVersion[] {
		this.sql.exec(`DELETE FROM staged_versions WHERE expires_at <= ?`, now);
		return this.sql
			.exec<{ item: string }>(
				`SELECT item FROM staged_versions WHERE (?1 IS NULL OR package = ?1) ORDER BY created_at, id LIMIT ?2`,
				pkg,
				limit,
			)
			.toArray()
			.map((row) => JSON.parse(row.item) as StagedVersion);
	}

	remove(ids: string[]): void {
		for (const id of ids) this.sql.exec(`DELETE FROM staged_versions WHERE id = ?`, id);
	}
}
