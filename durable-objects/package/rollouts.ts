import type { RolloutRow } from "../../schema/package/rows";

// Staged rollouts, at most one per channel: a version that a percentage of clients get instead of
// the channel's target. The cohort is drawn from the rollout's own salt (see schema/rollouts.ts),
// so a new rollout draws a new cohort and a client keeps its answer while the percentage grows.

export class Rollouts {
	constructor(private readonly sql: SqlStorage) {}

	get(channel: string): RolloutRow | null {
		return this.sql.exec<RolloutRow>(`SELECT * FROM rollouts WHERE channel = ?`, channel).toArray()[0] ?? null;
	}

	start(channel: string, version: string, percent: number, by: string, at: string): RolloutRow {
		return this.sql
			.exec<RolloutRow>(
				`INSERT INTO rollouts (channel, version, percent, salt, started_at, started_by) VALUES (?, ?, ?, ?, ?, ?)
				 RETURNING *`,
				channel,
				version,
				percent,
				crypto.randomUUID(),
				at,
				by,
			)
			.one();
	}

	setPercent(channel: string, percent: number): void {
		this.sql.exec(`UPDATE rollouts SET percent = ? WHERE channel = ?`, percent, channel);
	}

	end(channel: string): void {
		this.sql.exec(`DELETE FROM rollouts WHERE channel = ?`, channel);
	}

	/** Whether a rollout is giving this version to some clients. */
	serves(version: string): boolean {
		return this.sql.exec(`SELECT 1 FROM rollouts WHERE version = ?`, version).toArray().length > 0;
	}

	/** A version that goes away (forced deletion) takes its rollouts with it: everyone is back on the control. */
	endFor(version: string): void {
		this.sql.exec(`DELETE FROM rollouts WHERE version = ?`, version);
	}
}
