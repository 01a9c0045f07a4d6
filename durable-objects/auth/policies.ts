import type { ScopePolicy } from "../../schema/auth/contract";

// Policies the admin sets per scope, and registry-wide defaults: whether writes to a scope need a
// second factor, and how long pre-release versions are kept (null: inherit; a registry default
// of null: never removed).

export type ScopeRow = { scope: string; require_two_factor: number; prerelease_retention_days: number | null };

export class Policies {
	constructor(private readonly sql: SqlStorage) {}

	scope(scope: string): ScopeRow {
		return (
			this.sql.exec<ScopeRow>(`SELECT * FROM scopes WHERE scope = ?`, scope).toArray()[0] ?? {
				scope,
				require_two_factor: 0,
				prerelease_retention_days: null,
			}
		);
	}

	/** A scope's row as the admin API shows it. */
	policy(row: ScopeRow): ScopePolicy {
		return {
			scope: row.scope,
			requireTwoFactor: row.require_two_factor === 1,
			prereleaseRetentionDays: row.prerelease_retention_days,
		};
	}

	/** Every scope an admin gave a policy (the admin pages list them). */
	scopes(): ScopeRow[] {
		return this.sql.exec<ScopeRow>(`SELECT * FROM scopes ORDER BY scope`).toArray();
	}

	scopesWithRetention(): ScopeRow[] {
		return this.sql
			.exec<ScopeRow>(`SELECT * FROM scopes WHERE prerelease_retention_days IS NOT NULL ORDER BY scope`)
			.toArray();
	}

	setScope(scope: string, row: Omit<ScopeRow, "scope">): void {
		this.sql.exec(
			`INSERT INTO scopes (scope, require_two_factor, prerelease_retention_days) VALUES (?, ?, ?)
			 ON CONFLICT (scope) DO UPDATE SET require_two_factor = excluded.require_two_factor,
				prerelease_retention_days = excluded.prerelease_retention_days`,
			scope,
			row.require_two_factor,
			row.prerelease_retention_days,
		);
	}

	defaultRetentionDays(): number | null {
		const row = this.sql
			.exec<{ value: string }>(`SELECT value FROM settings WHERE name = 'prerelease_retention_days'`)
			.toArray()[0];
		return row ? Number(row.value) : null;
	}

	setDefaultRetentionDays(days: number | null): void {
		if (days === null) this.sql.exec(`DELETE FROM settings WHERE name = 'prerelease_retention_days'`);
		else {
			this.sql.exec(
				`INSERT INTO settings (name, value) VALUES ('prerelease_retention_days', ?)
				 ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
				String(days),
			);
		}
	}
}
