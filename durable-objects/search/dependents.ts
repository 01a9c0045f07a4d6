import type { DependencyEdge, Dependents, Readable } from "../../schema/search/contract";
import type { DependencyRow } from "../../schema/search/rows";
import { readableFilter } from "./readable";

// The index's dependents (#24.9): for each package, the names its latest version depends on
// (`package_dependencies`, migration 6), written with the package's row and dropped with it, so a
// publish, an unpublish or a change of `latest` moves them as the package's document does. Asked
// the other way round ("who depends on this name?"), filtered by what the asker may read: a
// restricted dependent is never named to someone without a grant on it.

export class DependencyIndex {
	constructor(private readonly sql: SqlStorage) {}

	/** Replaces what `name` depends on (inside the caller's transaction). */
	write(name: string, edges: DependencyEdge[]): void {
		this.drop(name);
		for (const edge of edges) {
			this.sql.exec(
				`INSERT OR IGNORE INTO package_dependencies (dependency, name, kind, range) VALUES (?, ?, ?, ?)`,
				edge.name,
				name,
				edge.kind,
				edge.range,
			);
		}
	}

	drop(name: string): void {
		this.sql.exec(`DELETE FROM package_dependencies WHERE name = ?`, name);
	}

	/** The first `limit` readable dependents of `dependency`, most downloaded first, and how many there are. */
	dependents(dependency: string, readable: Readable, limit: number): Dependents {
		const params: (string | number)[] = [dependency];
		const filter = readableFilter(readable, params);
		const from = `FROM package_dependencies d JOIN packages p ON p.name = d.name
			WHERE d.dependency = ?${filter === null ? "" : ` AND ${filter}`}`;
		const total = this.sql.exec<{ n: number }>(`SELECT count(*) AS n ${from}`, ...params).one().n;
		const rows = this.sql
			.exec<DependencyRow & { version: string; deprecated: string | null }>(
				`SELECT d.*, p.version, p.deprecated ${from} ORDER BY p.weekly_downloads DESC, d.name LIMIT ?`,
				...params,
				Math.max(0, Math.min(limit, 200)),
			)
			.toArray();
		return {
			total,
			dependents: rows.map((row) => ({
				name: row.name,
				version: row.version,
				kind: row.kind,
				range: row.range,
				deprecated: row.deprecated !== null,
			})),
		};
	}
}
