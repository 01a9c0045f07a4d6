import type { UpstreamTarballRow } from "../../schema/package/rows";

// The upstream tarballs this registry stored in R2, each once its bytes matched the integrity
// upstream published: served from R2 from then on, whether or not upstream is still there.

export class UpstreamTarballs {
	constructor(
		private readonly sql: SqlStorage,
		private readonly ready: () => boolean,
	) {}

	get(version: string): UpstreamTarballRow | null {
		if (!this.ready()) return null;
		return (
			this.sql.exec<UpstreamTarballRow>(`SELECT * FROM upstream_tarballs WHERE version = ?`, version).toArray()[0] ??
			null
		);
	}

	insert(row: UpstreamTarballRow): void {
		this.sql.exec(
			`INSERT INTO upstream_tarballs (version, upstream, key, size, integrity, stored_at) VALUES (?, ?, ?, ?, ?, ?)`,
			row.version,
			row.upstream,
			row.key,
			row.size,
			row.integrity,
			row.stored_at,
		);
	}

	/** Forgets every stored tarball (the name became this registry's); answers them, for R2 and the figures. */
	clear(): UpstreamTarballRow[] {
		const rows = this.sql.exec<UpstreamTarballRow>(`SELECT * FROM upstream_tarballs`).toArray();
		this.sql.exec(`DELETE FROM upstream_tarballs`);
		return rows;
	}
}
