import type { Person } from "../../schema/package/contract";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import { revision } from "./package-record";
import { abbreviatedPackument, fullPackument } from "./packument";

// The packuments (full and abbreviated), rebuilt inside every write transaction and stored, so a
// read is one row and never a rebuild. The ETag names the revision and the form.

export type PackumentForm = "full" | "abbreviated";

export class Documents {
	constructor(private readonly sql: SqlStorage) {}

	get(form: PackumentForm): { body: string; etag: string } {
		return this.sql.exec<{ body: string; etag: string }>(`SELECT body, etag FROM documents WHERE kind = ?`, form).one();
	}

	rebuild(pkg: PackageRow, versions: VersionRow[], tags: Record<string, string>, maintainers: Person[]): void {
		const documents: Record<PackumentForm, unknown> = {
			full: fullPackument(pkg, versions, tags, maintainers),
			abbreviated: abbreviatedPackument(pkg, versions, tags, maintainers),
		};
		for (const [kind, doc] of Object.entries(documents)) {
			this.sql.exec(
				`INSERT INTO documents (kind, body, etag) VALUES (?, ?, ?)
				 ON CONFLICT (kind) DO UPDATE SET body = excluded.body, etag = excluded.etag`,
				kind,
				JSON.stringify(doc),
				`"${revision(pkg)}-${kind === "full" ? "f" : "a"}"`,
			);
		}
	}
}
