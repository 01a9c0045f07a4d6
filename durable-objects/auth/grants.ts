import type { GrantHolder, GrantSubject, Restriction } from "../../schema/auth/contract";
import type { GrantRow } from "../../schema/auth/rows";
import type { Grant, Permission } from "../../schema/requests/admin";

// Grants held by tokens and users, and how they combine into what a token may do.

export class Grants {
	constructor(private readonly sql: SqlStorage) {}

	of(holder: GrantHolder, id: string): Grant[] {
		return this.sql
			.exec<GrantRow>(
				`SELECT subject_kind, subject, permissions FROM grants WHERE holder_kind = ? AND holder = ? ORDER BY subject`,
				holder,
				id,
			)
			.toArray()
			.map((g) => {
				const permissions = g.permissions.split(",") as Permission[];
				return g.subject_kind === "package" ? { package: g.subject, permissions } : { scope: g.subject, permissions };
			});
	}

	/** Adds a grant, or replaces the permissions of the holder's grant on the same subject. */
	set(holder: GrantHolder, id: string, grant: Grant): void {
		const [kind, subject] = subjectOf(grant);
		this.sql.exec(
			`INSERT INTO grants (holder_kind, holder, subject_kind, subject, permissions) VALUES (?, ?, ?, ?, ?)
			 ON CONFLICT DO UPDATE SET permissions = excluded.permissions`,
			holder,
			id,
			kind,
			subject,
			[...new Set(grant.permissions)].join(","),
		);
	}

	remove(holder: GrantHolder, id: string, grant: GrantSubject): boolean {
		const [kind, subject] = subjectOf(grant);
		return (
			this.sql
				.exec(
					`DELETE FROM grants WHERE holder_kind = ? AND holder = ? AND subject_kind = ? AND subject = ? RETURNING 1`,
					holder,
					id,
					kind,
					subject,
				)
				.toArray().length > 0
		);
	}

	replace(holder: GrantHolder, id: string, grants: Grant[]): void {
		this.sql.exec(`DELETE FROM grants WHERE holder_kind = ? AND holder = ?`, holder, id);
		for (const grant of grants) this.set(holder, id, grant);
	}

	/** Users whose grants cover a package, with their strongest permission on it. */
	usersCovering(name: string, scope: string | null): Map<string, Permission[]> {
		const rows = this.sql
			.exec<{ holder: string; permissions: string }>(
				`SELECT holder, permissions FROM grants WHERE holder_kind = 'user'
				 AND ((subject_kind = 'package' AND subject = ?) OR (subject_kind = 'scope' AND subject = ?))`,
				name,
				scope ?? "",
			)
			.toArray();
		const users = new Map<string, Permission[]>();
		for (const row of rows) {
			const merged = new Set([...(users.get(row.holder) ?? []), ...(row.permissions.split(",") as Permission[])]);
			users.set(row.holder, [...merged]);
		}
		return users;
	}
}

function subjectOf(grant: GrantSubject): ["package" | "scope", string] {
	return "package" in grant ? ["package", grant.package] : ["scope", grant.scope];
}

/**
 * What a token may do: its own grants and its user's, narrowed to its restriction (if any) and to
 * reading only for read-only tokens.
 */
export function effectiveGrants(all: Grant[], restriction: Restriction | null, readonly: boolean): Grant[] {
	let grants = all;
	if (restriction !== null) {
		const narrowed: Grant[] = [];
		for (const pkg of restriction.packages) {
			const scope = pkg.startsWith("@") ? pkg.slice(0, pkg.indexOf("/")) : null;
			const covering = all.filter((g) => ("package" in g ? g.package === pkg : g.scope === scope));
			const permissions = [...new Set(covering.flatMap((g) => g.permissions))];
			if (permissions.length > 0) narrowed.push({ package: pkg, permissions });
		}
		for (const scope of restriction.scopes) {
			narrowed.push(...all.filter((g) => ("scope" in g ? g.scope === scope : g.package.startsWith(`${scope}/`))));
		}
		grants = narrowed;
	}
	return readonly ? grants.map((g) => ({ ...g, permissions: ["read"] })) : grants;
}
