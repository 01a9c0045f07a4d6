import { etagMatches } from "../../schema/etag";
import type { Person, StoredDocument } from "../../schema/package/contract";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import { Channels } from "./channels";
import { revision } from "./package-record";
import {
	type AbbreviatedPiece,
	abbreviatedEntry,
	abbreviatedFrame,
	assembleAbbreviated,
	assembleFull,
	type FullPiece,
	fullEntry,
	fullFrame,
	versionPieces,
} from "./packument-pieces";
import { Versions } from "./versions";

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

/** Pieces read per page of a streamed packument: about 1 MB at 3 KB of fields per version. */
const PAGE_PIECES = 300;

/** A packument as a read gets it: its text, or (too large to join) its bytes as they are read. */
export type PackumentText = { text: string } | { stream: ReadableStream<Uint8Array> };

/** Everything in the packument besides the versions' own pieces, as the read sees it now. */
export type PackumentFrame = {
	distTags: Record<string, string>;
	maintainers: Person[];
	/** The version whose manifest gives the top-level fields: `latest`, or else the last published. */
	latest: () => VersionRow | null;
};

/** The due versions' rows, each found by its key: never a scan of `versions` (tests/migrations.test.ts). */
export const DUE_VERSIONS_SQL = `SELECT rowid AS seq, * FROM versions WHERE version IN (SELECT version FROM version_documents_due)`;

/**
 * A page of pieces in publish order, from the first or after a (published_at, seq): a range of
 * the order index each time, never a scan or a sort (tests/migrations.test.ts).
 */
export function piecesPageSql(form: PackumentForm, after: boolean): string {
	const columns = form === "full" ? "full_head, full_tail" : "abbreviated";
	return `SELECT version, published_at, seq, ${columns} FROM version_documents${after ? " WHERE (published_at, seq) > (?, ?)" : ""} ORDER BY published_at, seq LIMIT ?`;
}

/** The frame as the package's rows have it now (each part read when the join asks for it). */
export function packumentFrame(sql: SqlStorage): () => PackumentFrame {
	return () => {
		const versions = new Versions(sql);
		const distTags = new Channels(sql).distTags();
		const latest = () => versions.get(distTags.latest ?? "") ?? versions.lastPublished();
		return { distTags, maintainers: versions.maintainers(), latest };
	};
}

export class Documents {
	/** The last text joined of each form, by its ETag (a revision's is never reused). */
	private readonly joined = new Map<PackumentForm, { etag: string; body: string }>();

	constructor(private readonly sql: SqlStorage) {}

	etag(pkg: PackageRow, form: PackumentForm): string {
		return `"${revision(pkg)}-${form === "full" ? "f" : "a"}"`;
	}

	/**
	 * The form as a read serves it: nothing on a matching ETag; else its text, or, with `base`
	 * (a client's read), a stream when it is too long to join (`read`), the base already in place.
	 */
	served(
		pkg: PackageRow,
		form: PackumentForm,
		ifNoneMatch: string | null,
		frame: () => PackumentFrame,
		base?: string,
	): StoredDocument & { stream?: ReadableStream<Uint8Array> } {
		const etag = this.etag(pkg, form);
		const found = { etag, modified: pkg.modified_at, placeholder: pkg.base_placeholder };
		if (etagMatches(ifNoneMatch, etag)) return { ...found, body: null };
		if (base === undefined) return { ...found, body: this.body(pkg, form, frame) };
		const read = this.read(pkg, form, frame, { placeholder: pkg.base_placeholder, base });
		return "text" in read ? { ...found, body: read.text } : { ...found, body: null, stream: read.stream };
	}

	/** The form's text at the package's current revision. */
	body(pkg: PackageRow, form: PackumentForm, frame: () => PackumentFrame): string {
		const kept = this.joined.get(form);
		if (kept?.etag === this.etag(pkg, form)) return kept.body;
		this.store(pkg);
		// One scan of the table, ordered here: a join or an ORDER BY in SQLite costs several times more.
		const columns =
			form === "full" ? "version, published_at, seq, full_head, full_tail" : "version, published_at, seq, abbreviated";
		const pieces = inPublishOrder(this.sql.exec<Piece>(`SELECT ${columns} FROM version_documents`).toArray());
		return this.join(pkg, form, pieces, frame());
	}

	/** The text joined from every piece (in publish order), kept while the revision holds if short enough. */
	private join(pkg: PackageRow, form: PackumentForm, pieces: Piece[], frame: PackumentFrame): string {
		const body =
			form === "full"
				? assembleFull(pkg, pieces, frame.latest(), frame.distTags, frame.maintainers)
				: assembleAbbreviated(pkg, pieces, frame.distTags);
		if (body.length <= KEEP_JOINED_CHARS) this.joined.set(form, { etag: this.etag(pkg, form), body });
		else this.joined.delete(form);
		return body;
	}

	/**
	 * The form's text at the package's current revision, or, when it is longer than
	 * KEEP_JOINED_CHARS, a stream of its bytes: the pieces read a page at a time in publish order
	 * and written out as they are read, `placeholder` replaced by `base` on the way. The whole text
	 * is never in memory, nor passed between objects as one value (an RPC value may not pass 32
	 * MiB: about 10,000 versions of 3 KB). The frame (dist-tags, time, maintainers) is the
	 * revision's the read began at; a write while the stream is read shows in the pages not read
	 * yet (each page is committed rows), and the ETag names the revision the read began at, so the
	 * next revalidation brings the new revision whole. Erroring the stream instead would fail an
	 * install over a publish that cost it nothing.
	 */
	read(
		pkg: PackageRow,
		form: PackumentForm,
		frame: () => PackumentFrame,
		options: { placeholder: string; base: string },
	): PackumentText {
		const etag = this.etag(pkg, form);
		const kept = this.joined.get(form);
		if (kept?.etag === etag) return { text: kept.body };
		this.store(pkg);
		// The first pages, until the text is known to be short (then joined as `body` joins it) or long.
		const first: Piece[] = [];
		let chars = 0;
		for (let page = this.page(form, null); page.length > 0; page = this.page(form, page.at(-1) ?? null)) {
			first.push(...page);
			for (const p of page) chars += form === "full" ? p.full_head.length + p.full_tail.length : p.abbreviated.length;
			if (chars > KEEP_JOINED_CHARS || page.length < PAGE_PIECES) break;
		}
		const now = frame();
		if (chars <= KEEP_JOINED_CHARS) return { text: this.join(pkg, form, first, now) };
		this.joined.delete(form);
		const [head, tail] =
			form === "full"
				? fullFrame(pkg, this.times(), now.latest(), now.distTags, now.maintainers)
				: abbreviatedFrame(pkg, now.distTags);
		const entry = form === "full" ? fullEntry(now.maintainers) : abbreviatedEntry;
		// Wherever the joined text would have the placeholder replaced: frame and pieces alike.
		const encoder = new TextEncoder();
		const encode = (text: string) => encoder.encode(text.replaceAll(options.placeholder, () => options.base));
		let pending: Piece[] | null = first;
		let after: Piece | null = null;
		return {
			stream: new ReadableStream<Uint8Array>({
				start: (controller) => controller.enqueue(encode(`${head}{`)),
				pull: (controller) => {
					const pieces = pending ?? this.page(form, after);
					pending = null;
					if (pieces.length === 0) {
						controller.enqueue(encode(`}${tail}`));
						controller.close();
						return;
					}
					const text = pieces.map(entry).join(",");
					controller.enqueue(encode(after === null ? text : `,${text}`));
					after = pieces.at(-1) ?? null;
				},
			}),
		};
	}

	/** Up to PAGE_PIECES pieces in publish order, after `after` (from the first when null). */
	private page(form: PackumentForm, after: Ordered | null): Piece[] {
		const query =
			after === null
				? this.sql.exec<Piece>(piecesPageSql(form, false), PAGE_PIECES)
				: this.sql.exec<Piece>(piecesPageSql(form, true), after.published_at, after.seq, PAGE_PIECES);
		return query.toArray();
	}

	/** Every version's publish time, in publish order (the full form's `time`). */
	private times(): { version: string; published_at: string }[] {
		return this.sql
			.exec<{ version: string; published_at: string }>(
				`SELECT version, published_at FROM version_documents ORDER BY published_at, seq`,
			)
			.toArray();
	}

	/**
	 * Builds the pieces of the versions that are due: those published or changed since (the
	 * triggers of migration 11 list them and drop a changed version's pieces, whatever wrote the
	 * version), or every version of a package stored before pieces existed. Run by every write, and
	 * by every read that joins the pieces: it reads only the due list, whatever the version count.
	 */
	store(pkg: PackageRow): void {
		const due = this.sql.exec<VersionRow & { seq: number }>(DUE_VERSIONS_SQL).toArray();
		for (const row of due) {
			const pieces = versionPieces(pkg, row);
			this.sql.exec(
				`INSERT OR REPLACE INTO version_documents (version, published_at, seq, abbreviated, full_head, full_tail)
				 VALUES (?, ?, ?, ?, ?, ?)`,
				row.version,
				row.published_at,
				row.seq,
				pieces.abbreviated,
				pieces.fullHead,
				pieces.fullTail,
			);
		}
		if (due.length > 0) this.sql.exec(`DELETE FROM version_documents_due`);
	}
}

type Ordered = { published_at: string; seq: number };
/** A row of `version_documents` as a read selects it (the columns of its form only). */
type Piece = FullPiece & AbbreviatedPiece & Ordered;

/** The versions' order everywhere (versions.ts): by publish time, then by insertion. */
function inPublishOrder<T extends Ordered>(pieces: T[]): T[] {
	return pieces.sort((a, b) =>
		a.published_at < b.published_at ? -1 : a.published_at > b.published_at ? 1 : a.seq - b.seq,
	);
}
