import type { OutboxRow, PackageRow } from "../../schema/package/rows";
import type { SearchDocument } from "../../schema/search/contract";
import { searchIndex } from "../stubs";

// One of the alarm's jobs: tell the search index about the package. The `index_outbox` row says
// what the index last heard; the package is sent whenever its `rev` moved past that, or when its
// weekly download total changed and the last push is old enough. A failed delivery is retried
// with backoff; since it always sends the current state, retries and reordering cannot leave the
// index behind.

export type OutboxState = { pkg: PackageRow; weeklyDownloads: number; document: () => SearchDocument | null };

export class SearchOutbox {
	constructor(
		private readonly sql: SqlStorage,
		private readonly env: Env,
	) {}

	/** Delivers if anything is due; answers when the alarm should run again for it (null: never). */
	async deliver(state: OutboxState, now: number, pushEveryMs: number): Promise<number | null> {
		const outbox = this.sql.exec<OutboxRow>(`SELECT * FROM index_outbox`).one();
		const changed = state.pkg.rev !== outbox.delivered_rev;
		const downloadsMoved = state.weeklyDownloads !== outbox.delivered_weekly;
		if (!changed && !downloadsMoved) return null;
		if (!changed && now - outbox.delivered_at < pushEveryMs) return outbox.delivered_at + pushEveryMs;
		try {
			const doc = state.document();
			const index = searchIndex(this.env);
			if (doc) await index.upsert(doc);
			else await index.remove(state.pkg.name, state.pkg.rev);
			this.sql.exec(
				`UPDATE index_outbox SET delivered_rev = ?, delivered_weekly = ?, delivered_at = ?, failures = 0`,
				state.pkg.rev,
				state.weeklyDownloads,
				now,
			);
			return null;
		} catch (error) {
			const failures = outbox.failures + 1;
			this.sql.exec(`UPDATE index_outbox SET failures = ?`, failures);
			console.error(`search index delivery failed (${failures}) for ${state.pkg.name}`, error);
			return now + Math.min(300, 2 ** failures) * 1000;
		}
	}
}
