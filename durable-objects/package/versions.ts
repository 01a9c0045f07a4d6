import semver from "semver";
import type { BundledFile, Person } from "../../schema/package/contract";
import type { VersionInsert, VersionRow } from "../../schema/package/rows";

// Versions of one package and the index of their files. Rows are immutable once inserted, except
// for the deprecation message and the signatures; a removed version leaves its number behind so it
// is never reused. A change to a version drops its stored packument pieces and marks them due
// (triggers, migration 11), and the write builds them again (documents.ts).

export class Versions {
	constructor(private readonly sql: SqlStorage) {}

	all(): VersionRow[] {
		return this.sql.exec<VersionRow>(`SELECT * FROM versions ORDER BY published_at, rowid`).toArray();
	}

	/** Every version number, in publish order: what needs only the numbers reads no manifest. */
	numbers(): string[] {
		return this.sql
			.exec<{ version: string }>(`SELECT version FROM versions ORDER BY published_at, rowid`)
			.toArray()
			.map((r) => r.version);
	}

	/** Whether any version is a pre-release (has a `-` before any build metadata). */
	hasPrerelease(): boolean {
		return this.sql
			.exec<{ version: string }>(`SELECT version FROM versions WHERE version LIKE '%-%'`)
			.toArray()
			.some((r) => semver.prerelease(r.version) !== null);
	}

	/** How many versions there are, and when the last was published. */
	summary(): { count: number; lastPublishedAt: string } {
		const row = this.sql
			.exec<{ count: number; last: string | null }>(`SELECT count(*) AS count, max(published_at) AS last FROM versions`)
			.one();
		return { count: row.count, lastPublishedAt: row.last ?? "" };
	}

	/** The version published last (by time, then insertion). */
	lastPublished(): VersionRow | null {
		return (
			this.sql.exec<VersionRow>(`SELECT * FROM versions ORDER BY published_at DESC, rowid DESC LIMIT 1`).toArray()[0] ??
			null
		);
	}

	get(version: string): VersionRow | null {
		return this.sql.exec<VersionRow>(`SELECT * FROM versions WHERE version = ?`, version).toArray()[0] ?? null;
	}

	byId(versionId: string): VersionRow | null {
		return this.sql.exec<VersionRow>(`SELECT * FROM versions WHERE version_id = ?`, versionId).toArray()[0] ?? null;
	}

	/** True when the number is taken now or was taken by a version that has since been removed. */
	isTaken(version: string): boolean {
		return (
			this.sql
				.exec(
					`SELECT 1 FROM versions WHERE version = ? UNION ALL SELECT 1 FROM removed_versions WHERE version = ?`,
					version,
					version,
				)
				.toArray().length > 0
		);
	}

	wasRemoved(version: string): boolean {
		return this.sql.exec(`SELECT 1 FROM removed_versions WHERE version = ?`, version).toArray().length > 0;
	}

	insert(row: VersionInsert, files: BundledFile[]): void {
		this.sql.exec(
			`INSERT INTO versions (version, version_id, manifest, integrity, shasum, tarball_key, tarball_size,
				files_key, file_count, unpacked_size, entry_path, entry_integrity, readme, readme_filename,
				published_at, published_by, signatures)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			row.version,
			row.version_id,
			row.manifest,
			row.integrity,
			row.shasum,
			row.tarball_key,
			row.tarball_size,
			row.files_key,
			row.file_count,
			row.unpacked_size,
			row.entry_path,
			row.entry_integrity,
			row.readme,
			row.readme_filename,
			row.published_at,
			row.published_by,
			row.signatures,
		);
		for (const file of files) {
			this.sql.exec(
				`INSERT INTO files (version, path, offset, size, sha256) VALUES (?, ?, ?, ?, ?)`,
				row.version,
				file.path,
				file.offset,
				file.size,
				file.sha256,
			);
		}
	}

	/** Versions not signed yet, oldest first. */
	unsigned(limit: number): VersionRow[] {
		return this.sql
			.exec<VersionRow>(`SELECT * FROM versions WHERE signatures IS NULL ORDER BY published_at, rowid LIMIT ?`, limit)
			.toArray();
	}

	setSignatures(version: string, signatures: string): void {
		this.sql.exec(`UPDATE versions SET signatures = ? WHERE version = ?`, signatures, version);
	}

	setDeprecated(version: string, message: string | null): void {
		this.sql.exec(`UPDATE versions SET deprecated = ? WHERE version = ?`, message, version);
	}

	/** Deletes a version and its file index, keeping its number; returns the R2 keys of its bytes. */
	remove(version: string, by: string, at: string): string[] {
		const row = this.get(version);
		if (!row) return [];
		this.sql.exec(`DELETE FROM files WHERE version = ?`, version);
		this.sql.exec(`DELETE FROM versions WHERE version = ?`, version);
		this.sql.exec(
			`INSERT INTO removed_versions (version, removed_at, removed_by) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			version,
			at,
			by,
		);
		return [row.tarball_key, row.files_key];
	}

	/** A version's files by path, at most `limit` of them (the page's file browser). */
	fileList(version: string, limit: number): { path: string; size: number }[] {
		return this.sql
			.exec<{ path: string; size: number }>(
				`SELECT path, size FROM files WHERE version = ? ORDER BY path LIMIT ?`,
				version,
				limit,
			)
			.toArray();
	}

	file(version: string, path: string): BundledFile | null {
		return (
			this.sql
				.exec<BundledFile>(`SELECT path, offset, size, sha256 FROM files WHERE version = ? AND path = ?`, version, path)
				.toArray()[0] ?? null
		);
	}

	maintainers(): Person[] {
		return this.sql
			.exec<{ name: string; email: string | null }>(`SELECT name, email FROM maintainers ORDER BY rowid`)
			.toArray()
			.map((m) => (m.email ? { name: m.name, email: m.email } : { name: m.name }));
	}

	replaceMaintainers(people: Person[]): void {
		this.sql.exec(`DELETE FROM maintainers`);
		for (const person of people) this.addMaintainer(person);
	}

	addMaintainer(person: Person): void {
		this.sql.exec(
			`INSERT INTO maintainers (name, email) VALUES (?, ?)
			 ON CONFLICT (name) DO UPDATE SET email = coalesce(excluded.email, maintainers.email)`,
			person.name,
			person.email ?? null,
		);
	}
}
