import { etagMatches } from "../../schema/etag";
import type { ClientRead, Person, StoredDocument } from "../../schema/package/contract";
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
// takes the pieces a page at a time in publish order (the order index, migration 12) and joins
// them; the object keeps the last text of each form it joined (up to 2 M characters) until the
// revision moves, and a client's read of a longer one is streamed. The ETag names the revision and
// the form.

export type PackumentForm = "full" | "abbreviated";

/**
 * The longest text kept joined in memory (characters): most packuments. Larger ones a client's
 * read gets as a stream, on each read the read tier does not answer, so that many objects of
 * large packages in one isolate cannot fill its 128 MB.
 */
export const KEEP_JOINED_CHARS = 2 * 1024 * 1024;

/** Pieces read per page of a streamed packument: about 1 MB at 3 KB of fields per version. */
const PAGE_PIECES = 300;

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
	/** The ETag of the last revision each form was streamed at: too large to join. */
	private readonly streamed = new Map<PackumentForm, string>();

	constructor(private readonly sql: SqlStorage) {}

	etag(pkg: PackageRow, form: PackumentForm): string {
		return `"${revision(pkg)}-${form === "full" ? "f" : "a"}"`;
	}

	/**
	 * The form as a read serves it: nothing on a matching ETag; else its text, or, for a `client`
	 * read, a stream when it is longer than KEEP_JOINED_CHARS (`stream`), the base already in place.
	 * A form already streamed at this revision is answered with nothing on the client's own ETag
	 * (the read tier's question carries none: it answers those from what it keeps, and keeps no
	 * stream), so an install revalidating a large packument costs no piece read (#25).
	 */
	served(
		pkg: PackageRow,
		form: PackumentForm,
		ifNoneMatch: string | null,
		frame: () => PackumentFrame,
		client?: ClientRead,
	): StoredDocument & { stream?: ReadableStream<Uint8Array>; bodyless?: true } {
		const etag = this.etag(pkg, form);
		const found = { etag, modified: pkg.modified_at, placeholder: pkg.base_placeholder };
		if (etagMatches(ifNoneMatch, etag)) return { ...found, body: null };
		const short = client && this.streamed.get(form) === etag ? withoutStream(found, client) : null;
		if (short) return short;
		const kept = this.joined.get(form);
		if (kept?.etag === etag) return { ...found, body: kept.body };
		this.store(pkg);
		const { pieces, whole } = this.firstPieces(form, client ? KEEP_JOINED_CHARS : Number.POSITIVE_INFINITY);
		if (whole || !client) return { ...found, body: this.join(pkg, form, pieces, frame()) };
		this.joined.delete(form);
		this.streamed.set(form, etag);
		return (
			withoutStream(found, client) ?? {
				...found,
				body: null,
				stream: this.stream(pkg, form, pieces, frame(), client.base),
			}
		);
	}

	/** The form's text at the package's current revision, joined whatever its length. */
	body(pkg: PackageRow, form: PackumentForm, frame: () => PackumentFrame): string {
		return this.served(pkg, form, null, frame).body ?? "";
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
	 * The pieces in publish order, page by page, until there are no more (`whole`) or their text
	 * passes `limit` characters (then the rest is for the stream to read).
	 */
	private firstPieces(form: PackumentForm, limit: number): { pieces: Piece[]; whole: boolean } {
		const pieces: Piece[] = [];
		let chars = 0;
		for (let page = this.page(form, null); ; page = this.page(form, page.at(-1) ?? null)) {
			pieces.push(...page);
			for (const p of page) chars += form === "full" ? p.full_head.length + p.full_tail.length : p.abbreviated.length;
			if (chars > limit) return { pieces, whole: false };
			if (page.length < PAGE_PIECES) return { pieces, whole: true };
		}
	}

	/**
	 * The form's bytes as a stream: the frame, the pieces already read, then the rest a page at a
	 * time in publish order, `placeholder` replaced by `base` on the way. The whole text is never in
	 * memory, nor passed between objects as one value (an RPC value may not pass 32 MiB: about
	 * 10,000 versions of 3 KB). The frame (dist-tags, time, maintainers) is the revision's the read
	 * began at; a write while the stream is read shows in the pages not read yet (each page is
	 * committed rows), and the ETag names the revision the read began at, so the next revalidation
	 * brings the new revision whole. Erroring the stream instead would fail an install over a
	 * publish that cost it nothing.
	 */
	private stream(
		pkg: PackageRow,
		form: PackumentForm,
		first: Piece[],
		frame: PackumentFrame,
		base: string,
	): ReadableStream<Uint8Array> {
		const [head, tail] =
			form === "full"
				? fullFrame(pkg, this.times(), frame.latest(), frame.distTags, frame.maintainers)
				: abbreviatedFrame(pkg, frame.distTags);
		const entry = form === "full" ? fullEntry(frame.maintainers) : abbreviatedEntry;
		// Wherever the joined text would have the placeholder replaced: frame and pieces alike.
		const encoder = new TextEncoder();
		const encode = (text: string) => encoder.encode(text.replaceAll(pkg.base_placeholder, () => base));
		let pending: Piece[] | null = first;
		let after: Piece | null = null;
		return new ReadableStream<Uint8Array>({
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
		});
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

/**
 * What a client's read gets of a form too large to join short of its stream: nothing on its own
 * ETag (a 304), the headers alone for a HEAD; null: the stream. Either way no stream is made to be
 * cancelled (which workerd reports as an aborted pipe). Upstream copies too (upstream.ts).
 */
export function withoutStream<F extends Omit<StoredDocument, "body">>(
	found: F,
	client: ClientRead,
): (F & { body: null; bodyless?: true }) | null {
	if (etagMatches(client.ifNoneMatch, found.etag)) return { ...found, body: null };
	if (client.head) return { ...found, body: null, bodyless: true };
	return null;
}

type Ordered = { published_at: string; seq: number };
/** A row of `version_documents` as a read selects it (the columns of its form only). */
type Piece = FullPiece & AbbreviatedPiece & Ordered;
