import type { UpstreamDocumentRow, UpstreamVersionRow } from "../../schema/package/rows";
import type { UpstreamVersion } from "./upstream-packument";

// The upstream's packuments of a name that is not this registry's, one row per form (full,
// abbreviated) with the body split into chunks (one SQLite value holds at most 2 MB), and the
// tarball of every version they name: where upstream keeps it and what it must hash to.

export type UpstreamForm = UpstreamDocumentRow["form"];

/** Characters per chunk: a UTF-16 unit is at most 3 bytes of UTF-8, so a chunk stays under 2 MB. */
const CHUNK = 512 * 1024;

export type FoundDocument = {
	name: string;
	upstream: string;
	upstreamEtag: string | null;
	etag: string;
	modified: string;
	body: string;
	/** The body's size in bytes (UTF-8). */
	size: number;
	versions: UpstreamVersion[];
};

export class UpstreamDocuments {
	/** `ready`: whether the object has storage; until it does, nothing is cached (and reads create nothing). */
	constructor(
		private readonly sql: SqlStorage,
		private readonly ready: () => boolean,
	) {}

	get(form: UpstreamForm): UpstreamDocumentRow | null {
		if (!this.ready()) return null;
		return (
			this.sql.exec<UpstreamDocumentRow>(`SELECT * FROM upstream_documents WHERE form = ?`, form).toArray()[0] ?? null
		);
	}

	/** Whether upstream is known to have the name (a copy of either form). */
	hasCopy(): boolean {
		if (!this.ready()) return false;
		return this.sql.exec(`SELECT 1 FROM upstream_documents WHERE status = 200 LIMIT 1`).toArray().length > 0;
	}

	/** The name the cached documents are for (the object itself cannot tell its name from its id). */
	name(): string | null {
		if (!this.ready()) return null;
		return this.sql.exec<{ name: string }>(`SELECT name FROM upstream_documents LIMIT 1`).toArray()[0]?.name ?? null;
	}

	body(form: UpstreamForm): string {
		return this.sql
			.exec<{ body: string }>(`SELECT body FROM upstream_document_chunks WHERE form = ? ORDER BY seq`, form)
			.toArray()
			.map((chunk) => chunk.body)
			.join("");
	}

	/** Streams of each form's copy being read: a refresh waits for them before it replaces the chunks. */
	private readonly reading = new Map<UpstreamForm, Set<Promise<void>>>();

	/**
	 * The form's copy as a stream, chunk by chunk in order, its placeholder replaced by `base` on
	 * the way: a client's read of a copy too large to join (documents.ts) never holds the whole
	 * text, here or in the Worker. A refresh waits for open streams before it replaces the chunks
	 * (`streamsEnded`); one that could not wait longer (or a claim) changes the copy's ETag under
	 * the stream, which then fails rather than mix two copies.
	 */
	stream(form: UpstreamForm, row: UpstreamDocumentRow, base: string): ReadableStream<Uint8Array> {
		const { etag, placeholder } = row;
		const open = this.reading.get(form) ?? new Set<Promise<void>>();
		this.reading.set(form, open);
		let ended = () => {};
		const done = new Promise<void>((resolve) => (ended = resolve));
		open.add(done);
		void done.then(() => open.delete(done));
		const encoder = new TextEncoder();
		let seq = 0;
		let carry = "";
		return new ReadableStream<Uint8Array>({
			pull: (controller) => {
				if (this.get(form)?.etag !== etag) {
					ended();
					throw new Error(`the upstream copy of ${form} changed while it was read`);
				}
				const chunk = this.sql
					.exec<{ body: string }>(`SELECT body FROM upstream_document_chunks WHERE form = ? AND seq = ?`, form, seq)
					.toArray()[0];
				seq += 1;
				if (!chunk) {
					if (carry !== "") controller.enqueue(encoder.encode(carry));
					controller.close();
					ended();
					return;
				}
				const text = carry + chunk.body;
				const held = partialPlaceholder(text, placeholder);
				carry = text.slice(text.length - held);
				controller.enqueue(encoder.encode(text.slice(0, text.length - held).replaceAll(placeholder, () => base)));
			},
			cancel: () => ended(),
		});
	}

	/** Once every stream of the form's copy is read, or `waitMs` has passed (a client slower than that fails). */
	async streamsEnded(form: UpstreamForm, waitMs: number): Promise<void> {
		const open = this.reading.get(form);
		if (!open || open.size === 0) return;
		await Promise.race([Promise.all(open), new Promise((resolve) => setTimeout(resolve, waitMs))]);
	}

	/** Stores a document upstream sent (replacing the form's copy); answers the change in stored bytes. */
	storeFound(form: UpstreamForm, doc: FoundDocument, placeholder: string, now: number): number {
		const before = this.get(form)?.size ?? 0;
		this.sql.exec(`DELETE FROM upstream_document_chunks WHERE form = ?`, form);
		for (let seq = 0; seq * CHUNK < doc.body.length; seq++) {
			this.sql.exec(
				`INSERT INTO upstream_document_chunks (form, seq, body) VALUES (?, ?, ?)`,
				form,
				seq,
				doc.body.slice(seq * CHUNK, (seq + 1) * CHUNK),
			);
		}
		this.upsert(form, {
			name: doc.name,
			upstream: doc.upstream,
			status: 200,
			upstream_etag: doc.upstreamEtag,
			etag: doc.etag,
			modified: doc.modified,
			placeholder,
			size: doc.size,
			fetched_at: now,
		});
		for (const version of doc.versions) {
			this.sql.exec(
				`INSERT INTO upstream_versions (version, upstream, url, integrity, shasum) VALUES (?, ?, ?, ?, ?)
				 ON CONFLICT (version) DO UPDATE SET upstream = excluded.upstream, url = excluded.url,
				   integrity = excluded.integrity, shasum = excluded.shasum`,
				version.version,
				doc.upstream,
				version.url,
				version.integrity,
				version.shasum,
			);
		}
		return doc.size - before;
	}

	/** No upstream has the name: believed for UPSTREAM_NOT_FOUND_SECONDS. Answers the change in stored bytes. */
	storeNotFound(form: UpstreamForm, name: string, upstream: string, now: number): number {
		const before = this.get(form)?.size ?? 0;
		this.sql.exec(`DELETE FROM upstream_document_chunks WHERE form = ?`, form);
		this.upsert(form, {
			name,
			upstream,
			status: 404,
			upstream_etag: null,
			etag: "",
			modified: "",
			placeholder: "",
			size: 0,
			fetched_at: now,
		});
		return -before;
	}

	/** Upstream answered 304: the copy is fresh again. */
	confirm(form: UpstreamForm, now: number): void {
		this.sql.exec(
			`UPDATE upstream_documents SET fetched_at = ?, failed_at = NULL, last_error = NULL WHERE form = ?`,
			now,
			form,
		);
	}

	/** A refresh failed: the copy is served with a warning until it is too old to serve at all. */
	failed(form: UpstreamForm, now: number, error: string): void {
		this.sql.exec(`UPDATE upstream_documents SET failed_at = ?, last_error = ? WHERE form = ?`, now, error, form);
	}

	/** Every version seen, with the digest first seen for it (pinned: a published version never changes). */
	pinnedVersions(): Map<string, UpstreamVersion> {
		if (!this.ready()) return new Map();
		const rows = this.sql
			.exec<UpstreamVersionRow>(`SELECT version, url, integrity, shasum FROM upstream_versions`)
			.toArray();
		return new Map(
			rows.map((row) => [
				row.version,
				{ version: row.version, url: row.url, integrity: row.integrity, shasum: row.shasum },
			]),
		);
	}

	version(version: string): UpstreamVersionRow | null {
		if (!this.ready()) return null;
		return (
			this.sql.exec<UpstreamVersionRow>(`SELECT * FROM upstream_versions WHERE version = ?`, version).toArray()[0] ??
			null
		);
	}

	/** Forgets every copy (the name became this registry's); answers the stored documents' sizes. */
	clear(): Pick<UpstreamDocumentRow, "upstream" | "size" | "status">[] {
		const rows = this.sql
			.exec<Pick<UpstreamDocumentRow, "upstream" | "size" | "status">>(
				`SELECT upstream, size, status FROM upstream_documents`,
			)
			.toArray();
		this.sql.exec(`DELETE FROM upstream_document_chunks`);
		this.sql.exec(`DELETE FROM upstream_documents`);
		this.sql.exec(`DELETE FROM upstream_versions`);
		return rows;
	}

	private upsert(form: UpstreamForm, row: Omit<UpstreamDocumentRow, "form" | "failed_at" | "last_error">): void {
		this.sql.exec(
			`INSERT INTO upstream_documents
			   (form, name, upstream, status, upstream_etag, etag, modified, placeholder, size, fetched_at, failed_at, last_error)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)
			 ON CONFLICT (form) DO UPDATE SET name = excluded.name, upstream = excluded.upstream,
			   status = excluded.status, upstream_etag = excluded.upstream_etag, etag = excluded.etag,
			   modified = excluded.modified, placeholder = excluded.placeholder, size = excluded.size,
			   fetched_at = excluded.fetched_at, failed_at = NULL, last_error = NULL`,
			form,
			row.name,
			row.upstream,
			row.status,
			row.upstream_etag,
			row.etag,
			row.modified,
			row.placeholder,
			row.size,
			row.fetched_at,
		);
	}
}

/**
 * How many characters at the end of `text` begin the placeholder without completing it: held back
 * until the next chunk, which may complete it. The placeholder (`registry-base-` and hex digits)
 * has no proper suffix that is also a prefix, so no occurrence can begin inside another.
 */
export function partialPlaceholder(text: string, placeholder: string): number {
	for (let n = Math.min(placeholder.length - 1, text.length); n > 0; n--) {
		if (text.endsWith(placeholder.slice(0, n))) return n;
	}
	return 0;
}

/** A stale copy served because upstream could not be reached says so (RFC 7234's Warning 111). */
export function staleWarning(row: UpstreamDocumentRow): string | null {
	if (row.failed_at === null) return null;
	const fetched = new Date(row.fetched_at).toISOString();
	return `111 - "Revalidation Failed: the upstream registry could not be reached; this copy was fetched at ${fetched}"`;
}

/** An upstream date as ISO 8601, or null where it is not a date. */
export function dateOf(value: string | null): string | null {
	if (value === null) return null;
	const time = Date.parse(value);
	return Number.isNaN(time) ? null : new Date(time).toISOString();
}
