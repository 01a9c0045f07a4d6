// Each version's README as sanitised HTML, rendered by the Worker at publish (worker/web/markdown.ts)
// and kept here, so a package page reads it instead of rendering markdown. Kept apart from the
// versions table: packument rebuilds read every version row and never need it.

export class Readmes {
	constructor(private readonly sql: SqlStorage) {}

	get(version: string): string | null {
		return (
			this.sql.exec<{ html: string }>(`SELECT html FROM version_readmes WHERE version = ?`, version).toArray()[0]
				?.html ?? null
		);
	}

	put(version: string, html: string): void {
		this.sql.exec(
			`INSERT INTO version_readmes (version, html) VALUES (?, ?) ON CONFLICT (version) DO UPDATE SET html = excluded.html`,
			version,
			html,
		);
	}

	remove(version: string): void {
		this.sql.exec(`DELETE FROM version_readmes WHERE version = ?`, version);
	}
}
