import semver from "semver";
import type { VersionRow } from "../../schema/package/rows";
import type { Channels } from "./channels";
import type { Rollouts } from "./rollouts";

// One of the alarm's jobs: the retention policy (per scope, or the registry's default; off unless
// an admin sets one) removes pre-release versions older than its number of days, a few per run,
// never one that a channel targets or may roll back to, nor one a rollout serves. Checked once a
// day per package that has pre-release versions.

export const RETENTION_CHECK_EVERY_MS = 24 * 60 * 60_000;
export const RETENTION_BATCH = 20;

export class Retention {
	constructor(
		private readonly sql: SqlStorage,
		private readonly channels: Channels,
		private readonly rollouts: Rollouts,
	) {}

	lastCheck(): number {
		return this.sql.exec<{ checked_at: number }>(`SELECT checked_at FROM retention_checks`).one().checked_at;
	}

	markChecked(at: number): void {
		this.sql.exec(`UPDATE retention_checks SET checked_at = ?`, at);
	}

	/** The pre-release versions older than `days` days that nothing needs, oldest first. */
	removable(versions: VersionRow[], days: number, now: number): string[] {
		const cutoff = now - days * 24 * 60 * 60_000;
		const targets = new Set(this.channels.list().map((c) => c.version));
		return versions
			.filter((row) => semver.prerelease(row.version) !== null && Date.parse(row.published_at) < cutoff)
			.map((row) => row.version)
			.filter(
				(version) =>
					!targets.has(version) &&
					this.channels.protectingChannels(version).length === 0 &&
					!this.rollouts.serves(version),
			);
	}
}
