import type { ClaimRow } from "../../schema/package/rows";

// An admin's claim on the package's name, made before anything is published under it: from then
// on the name is this registry's (never asked upstream), and it may be published here even though
// the upstream registry has a package of that name. One row at most; a claim is never withdrawn.

export class Claim {
	constructor(private readonly sql: SqlStorage) {}

	get(): ClaimRow | null {
		return this.sql.exec<ClaimRow>(`SELECT name, claimed_at, claimed_by FROM claim`).toArray()[0] ?? null;
	}

	insert(name: string, at: string, by: string): ClaimRow {
		return this.sql
			.exec<ClaimRow>(
				`INSERT INTO claim (singleton, name, claimed_at, claimed_by) VALUES (1, ?, ?, ?)
				 RETURNING name, claimed_at, claimed_by`,
				name,
				at,
				by,
			)
			.one();
	}
}
