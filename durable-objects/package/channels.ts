import { ok, type Result } from "../../schema/errors";
import { LIMITS } from "../../schema/limits";
import type { HistoryEvent, HistoryRow } from "../../schema/package/rows";
import { refusals } from "../../schema/refusals";

// Channels (npm dist-tags) and their history chains, inside one package's SQLite. A channel points
// at a row of its own history; every move appends a row linked to the row it replaced, and a
// rollback walks that link back without appending. All methods run inside the caller's transaction.

export type ChannelState = { channel: string; version: string; historyId: number; at: string; by: string };

/** How many of a channel's most recent history entries protect their versions from deletion. */
const PROTECTED_HISTORY_DEPTH = 10;

export class Channels {
	constructor(private readonly sql: SqlStorage) {}

	get(channel: string): ChannelState | null {
		const row = this.sql
			.exec<HistoryRow>(
				`SELECT h.* FROM channels c JOIN channel_history h ON h.id = c.current_history_id WHERE c.name = ?`,
				channel,
			)
			.toArray()[0];
		return row ? toState(row) : null;
	}

	/** The newest event of the channel's history: a publisher's move, promotion or rollback, an upload's move… */
	lastEvent(channel: string): HistoryEvent | null {
		const row = this.sql
			.exec<{ event: HistoryEvent }>(
				`SELECT event FROM channel_history WHERE channel = ? ORDER BY id DESC LIMIT 1`,
				channel,
			)
			.toArray()[0];
		return row?.event ?? null;
	}

	list(): ChannelState[] {
		return this.sql
			.exec<HistoryRow>(
				`SELECT h.* FROM channels c JOIN channel_history h ON h.id = c.current_history_id ORDER BY c.name`,
			)
			.toArray()
			.map(toState);
	}

	/** Whether moving these channels keeps the package within its number of channels. */
	hasRoomFor(channels: string[]): boolean {
		const existing = new Set(this.list().map((c) => c.channel));
		const added = new Set(channels.filter((c) => !existing.has(c)));
		return existing.size + added.size <= LIMITS.channelsPerPackage;
	}

	/** `{ tag: version }`, the npm view of the channels. */
	distTags(): Record<string, string> {
		return Object.fromEntries(this.list().map((c) => [c.channel, c.version]));
	}

	/** Points a channel at a version: one new history row, linked to the channel's current row. */
	move(
		channel: string,
		version: string,
		by: string,
		at: string,
		event: HistoryEvent = "move",
		detail: unknown = null,
	): ChannelState {
		const row = this.append(channel, version, by, at, event, detail === null ? null : JSON.stringify(detail));
		this.sql.exec(
			`INSERT INTO channels (name, current_history_id) VALUES (?, ?)
			 ON CONFLICT (name) DO UPDATE SET current_history_id = excluded.current_history_id`,
			channel,
			row.id,
		);
		return toState(row);
	}

	/**
	 * Records an event beside the chain (a rollout's start, change or revert): a history row linked
	 * to the current one, which the pointer never stands on, so rollback never lands there.
	 */
	note(channel: string, version: string, by: string, at: string, event: HistoryEvent, detail: unknown): void {
		this.append(channel, version, by, at, event, detail === null ? null : JSON.stringify(detail));
	}

	private append(
		channel: string,
		version: string,
		by: string,
		at: string,
		event: HistoryEvent,
		detail: string | null,
	): HistoryRow {
		return this.sql
			.exec<HistoryRow>(
				`INSERT INTO channel_history (channel, version, previous_history_id, at, by, event, detail)
				 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *`,
				channel,
				version,
				this.currentHistoryId(channel),
				at,
				by,
				event,
				detail,
			)
			.one();
	}

	/** Moves the pointer back along the chain: one step, or to a chosen earlier row of the same chain. */
	rollback(channel: string, to?: number): Result<ChannelState> {
		const currentId = this.currentHistoryId(channel);
		if (currentId === null) return refusals.channelNotFound(channel);
		const chain = this.chainFrom(currentId);
		const target = to === undefined ? chain[1] : chain.slice(1).find((row) => row.id === to);
		if (!target) {
			return to === undefined ? refusals.nothingToRollBackTo(channel) : refusals.notAnEarlierEntry(channel, to);
		}
		this.sql.exec(`UPDATE channels SET current_history_id = ? WHERE name = ?`, target.id, channel);
		return ok(toState(target));
	}

	/** The channel's history, newest first, with the row the pointer is at marked. */
	history(channel: string): (HistoryRow & { current: boolean })[] | null {
		const currentId = this.currentHistoryId(channel);
		if (currentId === null) return null;
		return this.sql
			.exec<HistoryRow>(`SELECT * FROM channel_history WHERE channel = ? ORDER BY id DESC`, channel)
			.toArray()
			.map((row) => ({ ...row, current: row.id === currentId }));
	}

	/** The ids of the rows a rollback may move the channel to: its current chain, less the current row. */
	rollbackTargets(channel: string): Set<number> {
		const currentId = this.currentHistoryId(channel);
		return new Set(
			currentId === null
				? []
				: this.chainFrom(currentId)
						.slice(1)
						.map((row) => row.id),
		);
	}

	/** Removes a channel and its whole chain (a later move starts a fresh chain). */
	remove(channel: string): boolean {
		const existed = this.currentHistoryId(channel) !== null;
		this.sql.exec(`DELETE FROM channels WHERE name = ?`, channel);
		this.sql.exec(`DELETE FROM channel_history WHERE channel = ?`, channel);
		return existed;
	}

	/**
	 * Channels that protect a version from deletion: those whose most recent entries include it (a
	 * loader's rollback may need it) or that point at it now, however far back that row is. Not
	 * `latest`: npm moves it on every publish, and a publisher must be able to take down a version
	 * just published.
	 */
	protectingChannels(version: string): string[] {
		return this.sql
			.exec<{ channel: string }>(
				`SELECT DISTINCT channel FROM (
					SELECT id, channel, version, row_number() OVER (PARTITION BY channel ORDER BY id DESC) AS depth
					FROM channel_history
				) WHERE version = ? AND channel <> 'latest'
					AND (depth <= ? OR id IN (SELECT current_history_id FROM channels)) ORDER BY channel`,
				version,
				PROTECTED_HISTORY_DEPTH,
			)
			.toArray()
			.map((r) => r.channel);
	}

	/** Channels other than `latest`: while one exists, pages may be loading the package. */
	loaderChannels(): string[] {
		return this.list()
			.map((c) => c.channel)
			.filter((c) => c !== "latest");
	}

	/**
	 * Splices a deleted version out of every chain: a channel at it moves back to its nearest earlier
	 * row of another version (or is removed), the version's rows go, and rows that linked to them
	 * lose that link, so rollback stops there instead of skipping to something never adjacent.
	 */
	spliceVersion(version: string): void {
		for (const { name, current_history_id } of this.sql
			.exec<{ name: string; current_history_id: number }>(`SELECT name, current_history_id FROM channels`)
			.toArray()) {
			const chain = this.chainFrom(current_history_id);
			if (chain[0]?.version !== version) continue;
			const fallback = chain.find((row) => row.version !== version);
			if (fallback) {
				this.sql.exec(`UPDATE channels SET current_history_id = ? WHERE name = ?`, fallback.id, name);
			} else {
				this.sql.exec(`DELETE FROM channels WHERE name = ?`, name);
			}
		}
		this.sql.exec(
			`UPDATE channel_history SET previous_history_id = NULL
			 WHERE previous_history_id IN (SELECT id FROM channel_history WHERE version = ?)`,
			version,
		);
		this.sql.exec(`DELETE FROM channel_history WHERE version = ?`, version);
		this.sql.exec(`DELETE FROM channel_history WHERE channel NOT IN (SELECT name FROM channels)`);
	}

	private currentHistoryId(channel: string): number | null {
		const row = this.sql
			.exec<{ current_history_id: number }>(`SELECT current_history_id FROM channels WHERE name = ?`, channel)
			.toArray()[0];
		return row?.current_history_id ?? null;
	}

	/** The chain from a row back to its start, following previous_history_id. */
	private chainFrom(id: number): HistoryRow[] {
		return this.sql
			.exec<HistoryRow>(
				`WITH RECURSIVE chain(id) AS (
					SELECT ? UNION ALL
					SELECT h.previous_history_id FROM channel_history h JOIN chain ON h.id = chain.id
					WHERE h.previous_history_id IS NOT NULL
				)
				SELECT h.* FROM chain JOIN channel_history h ON h.id = chain.id ORDER BY h.id DESC`,
				id,
			)
			.toArray();
	}
}

function toState(row: HistoryRow): ChannelState {
	return { channel: row.channel, version: row.version, historyId: row.id, at: row.at, by: row.by };
}
