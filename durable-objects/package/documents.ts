import type { Person } from "../../schema/package/contract";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import { revision } from "./package-record";
import {
	type AbbreviatedPiece,
	assembleAbbreviated,
	assembleFull,
	type FullPiece,
	versionPieces,
} from "./packument-pieces";

// The packuments (full and abbreviated), stored in pieces: each version's part of both forms is a
// row of `version_documents` (packument-pieces.ts), written when the version is published or
// changed, so a write stores what changed and no value grows with the number of versions. A read
// joins the pieces, and the object keeps the last text of each form it joined (up to 2 M
// characters) until the revision moves. The ETag names the revision and the form.

export type PackumentForm = "full" | "abbreviated";

/**
 * The longest text kept joined in memory (characters): most packuments. Larger ones are joined
 * again on each read the read tier does not answer, so that many objects of large packages in
 * one isolate cannot fill its 128 MB.
 */
const KEEP_JOINED_CHARS = 2 * 1024 * 1024;

/** Everything in the packument besides the versions' own pieces, as the read sees it now. */
export type PackumentFrame = {
	distTags: Record<string, string>;
	maintainers: Person[];
	/** The version whose manifest gives the top-level fields: `latest`, or else the last published. */
	latest: () => VersionRow | null;
};

export class Documents {
	/** The last text joined of each form, by its ETag (a revision's is never reused). */
	private readonly joined = new Map<PackumentForm, { etag: string; body: string }>();

	constructor(private readonly sql: SqlStorage) {}

	etag(pkg: PackageRow, form: PackumentForm): string {
		return `"${revision(pkg)}-${form === "full" ? "f" : "a"}"`;
	}

	/** The form's text at the package's current revision. */
	body(pkg: PackageRow, form: PackumentForm, frame: () => PackumentFrame): string {
		const etag = this.etag(pkg, form);
		const kept = this.joined.get(form);
		if (kept?.etag === etag) return kept.body;
		this.store(pkg);
		const { distTags, maintainers, latest } = frame();
		// One scan of the table, ordered here: a join or an ORDER BY in SQLite costs several times more.
		const body =
			form === "full"
				? assembleFull(
						pkg,
						inPublishOrder(
							this.sql
								.exec<FullPiece & Ordered>(
									`SELECT version, published_at, seq, full_head, full_tail FROM version_documents`,
								)
								.toArray(),
						),
						latest(),
						distTags,
						maintainers,
					)
				: assembleAbbreviated(
						pkg,
						inPublishOrder(
							this.sql
								.exec<AbbreviatedPiece & Ordered>(
									`SELECT version, published_at, seq, abbreviated FROM version_documents`,
								)
								.toArray(),
						),
						distTags,
					);
		if (body.length <= KEEP_JOINED_CHARS) this.joined.set(form, { etag, body });
		else this.joined.delete(form);
		return body;
	}

	/**
	 * Builds the pieces of the versions that have none: those published or changed since (a change
	 * to a version drops its pieces, see versions.ts), or every version of a package stored before
	 * pieces existed. Run by every write, and by every read that joins the pieces.
	 */
	store(pkg: PackageRow): void {
		// A version's pieces go with it (versions.ts); any left without one would be read as a version.
		// Found through the indexes of both tables (a DELETE … NOT IN would read every piece).
		const orphans = this.sql
			.exec<{ version: string }>(
				`SELECT version FROM version_documents d WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.version = d.version)`,
			)
			.toArray();
		for (const { version } of orphans) this.sql.exec(`DELETE FROM version_documents WHERE version = ?`, version);
		// The numbers first (an index holds them), then only the rows that need pieces.
		const missing = this.sql
			.exec<{ version: string }>(
				`SELECT version FROM versions v WHERE NOT EXISTS (SELECT 1 FROM version_documents d WHERE d.version = v.version)`,
			)
			.toArray();
		for (const { version } of missing) {
			const row = this.sql
				.exec<VersionRow & { seq: number }>(`SELECT rowid AS seq, * FROM versions WHERE version = ?`, version)
				.one();
			const pieces = versionPieces(pkg, row);
			this.sql.exec(
				`INSERT INTO version_documents (version, published_at, seq, abbreviated, full_head, full_tail)
				 VALUES (?, ?, ?, ?, ?, ?)`,
				row.version,
				row.published_at,
				row.seq,
				pieces.abbreviated,
				pieces.fullHead,
				pieces.fullTail,
			);
		}
	}
}

type Ordered = { published_at: string; seq: number };

/** The versions' order everywhere (versions.ts): by publish time, then by insertion. */
function inPublishOrder<T extends Ordered>(pieces: T[]): T[] {
	return pieces.sort((a, b) =>
		a.published_at < b.published_at ? -1 : a.published_at > b.published_at ? 1 : a.seq - b.seq,
	);
}
