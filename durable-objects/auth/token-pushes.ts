import type { TokenRecord } from "../../schema/auth/contract";
import type { TokenPushRow } from "../../schema/auth/rows";
import { tokenObject } from "../stubs";

// The queue of token records to push to their TokenDOs. A change to what a token may do queues
// its hash (with the token's new version) inside the change's transaction; the queue is drained
// before the change is acknowledged, and what fails stays queued for the alarm to retry. A TokenDO
// keeps the newest version it was given, so retries and reordering are harmless.

/** Pushes one drain makes: well under the 1,000 subrequests of one request. */
export const PUSH_BATCH = 500;
const PUSH_RETRY_MS = 5_000;

export class TokenPushes {
	constructor(
		private readonly sql: SqlStorage,
		private readonly env: Env,
		/** What the TokenDO of `hash` should hold now: null unless it is the token's live hash. */
		private readonly recordFor: (id: string, hash: string) => TokenRecord | null,
		private readonly batch = PUSH_BATCH,
	) {}

	queue(hash: string, id: string, version: number): void {
		this.sql.exec(
			`INSERT INTO token_pushes (hash, token_id, version) VALUES (?, ?, ?)
			 ON CONFLICT (hash) DO UPDATE SET token_id = excluded.token_id, version = excluded.version`,
			hash,
			id,
			version,
		);
	}

	get pending(): boolean {
		return this.sql.exec(`SELECT 1 FROM token_pushes LIMIT 1`).toArray().length > 0;
	}

	/**
	 * Pushes queued records, at most `batch` (PUSH_BATCH) per call: one call stays within a request's
	 * subrequests however many tokens a change touched (a team of hundreds). Answers when the alarm
	 * should go on (ms from now): at once for the rest of a long queue, after PUSH_RETRY_MS when some
	 * pushes failed (they stay queued); null when the queue is empty.
	 */
	async drain(): Promise<number | null> {
		const queued = this.sql.exec<TokenPushRow>(`SELECT * FROM token_pushes LIMIT ?`, this.batch).toArray();
		const outcomes = await Promise.allSettled(
			queued.map(async (push) => {
				await tokenObject(this.env, push.hash).put(this.recordFor(push.token_id, push.hash), push.version);
				this.sql.exec(`DELETE FROM token_pushes WHERE hash = ? AND version = ?`, push.hash, push.version);
			}),
		);
		const failed = outcomes.filter((o) => o.status === "rejected");
		if (failed.length > 0) {
			console.error(`${failed.length} token pushes failed; retrying`, failed[0]);
			return PUSH_RETRY_MS;
		}
		return this.pending ? 0 : null;
	}
}
