import type { UpstreamDocumentRow } from "../../schema/package/rows";
import type { FoundDocument, UpstreamForm } from "./upstream-documents";

// A name's first packument is answered as soon as upstream's document is fetched, checked and
// rewritten, and stored after (#25): a write holds back what the object sends until it is stored,
// and creating a new name's database is most of the cost of its first read, which an install
// through this registry pays along its dependency chain, one name after another. Until the copy
// is stored, every other read of the name's copies waits for it (and is then served from it).

/** A document upstream just sent, checked and rewritten, before it is stored. */
export type UnstoredCopy = { row: UpstreamDocumentRow; body: string };

/** Answers the request that began a refresh with the copy, before it is stored. */
export type AnswerEarly = (copy: UnstoredCopy) => void;

export function unstoredCopy(form: UpstreamForm, found: FoundDocument, placeholder: string, now: number): UnstoredCopy {
	const { name, upstream, upstreamEtag, etag, modified, size, body } = found;
	const row: UpstreamDocumentRow = {
		...{ form, name, upstream, status: 200, upstream_etag: upstreamEtag, etag, modified, placeholder, size },
		...{ fetched_at: now, failed_at: null, last_error: null },
	};
	return { row, body };
}

/** The stores still to run of documents already answered, one per form. */
export class UnstoredCopies {
	private readonly storing = new Map<UpstreamForm, Promise<void>>();
	private readonly rows = new Map<UpstreamForm, UpstreamDocumentRow>();

	/** The form's copy while it is answered but not stored yet. */
	row(form: UpstreamForm): UpstreamDocumentRow | null {
		return this.rows.get(form) ?? null;
	}

	/** Once every document answered before it was stored is stored (or failed to be). */
	async settled(): Promise<void> {
		if (this.storing.size > 0) await Promise.all(this.storing.values());
	}

	/** Hands the copy to the request waiting for it, lets that answer leave, then stores it. */
	async answerThenStore<T>(copy: UnstoredCopy, answer: AnswerEarly, store: () => T): Promise<T> {
		// A macrotask: after the answer's reactions have run and it has left the object.
		const storing = new Promise((resolve) => setTimeout(resolve, 0)).then(store);
		const form = copy.row.form;
		this.rows.set(form, copy.row);
		answer(copy);
		this.storing.set(
			form,
			storing.then(
				() => {},
				() => {},
			),
		);
		try {
			return await storing;
		} finally {
			this.storing.delete(form);
			this.rows.delete(form);
		}
	}
}
