import { config } from "../../schema/config";
import type { PackageRow } from "../../schema/package/rows";
import { metricsObject } from "../stubs";
import type { Downloads } from "./downloads";

// One of the alarm's jobs: tell the MetricsDO what its alerts need from this package. The R2 bytes
// its tarballs take (storage alert), once per revision (and once after the object restarts); and
// whether today's downloads run over ALERT_DOWNLOAD_SPIKE times its daily average of the last 30
// days (download spike alert), when that changes. A download-count flush that changes neither
// sends nothing; a failed report is sent again by the next alarm.

const BASELINE_DAYS = 30;

/** The R2 bytes of every version's tarball: read from the versions_tarball_size index alone (#25). */
export const STORAGE_BYTES_SQL = `SELECT coalesce(sum(tarball_size), 0) AS bytes FROM versions`;

export class MetricsReport {
	private reportedRev: number | null = null;
	/** The spike state last reported (null: none since the object started, which reports only a spike). */
	private reportedSpike: string | null = null;

	constructor(
		private readonly sql: SqlStorage,
		private readonly env: Env,
	) {}

	async deliver(pkg: PackageRow, downloads: Downloads, now = new Date()): Promise<void> {
		try {
			if (this.reportedRev !== pkg.rev) {
				const bytes = this.sql.exec<{ bytes: number }>(STORAGE_BYTES_SQL).one().bytes;
				await metricsObject(this.env).reportStorage(pkg.name, bytes);
				this.reportedRev = pkg.rev;
			}
			const spike = downloadSpike(downloads, config(this.env).alertDownloadSpike, now);
			const state = spike ? `${spike.day}:spiking` : "calm";
			if (state !== this.reportedSpike && (spike || this.reportedSpike !== null)) {
				await metricsObject(this.env).reportDownloadSpike(pkg.name, spike);
			}
			this.reportedSpike = state;
		} catch (error) {
			console.error(`could not report the figures of ${pkg.name}`, error);
		}
	}
}

export type DownloadSpike = { day: string; today: number; average: number };

/**
 * Today's downloads against the daily average of the days before (up to 30, from the first day
 * anything was downloaded): a spike when today is over `ratio` times it. No history, no spike.
 */
export function downloadSpike(downloads: Downloads, ratio: number, now = new Date()): DownloadSpike | null {
	const days = downloads.lastDays(BASELINE_DAYS + 1, now);
	const day = now.toISOString().slice(0, 10);
	const today = days.find((d) => d.day === day)?.downloads ?? 0;
	const before = days.filter((d) => d.day < day && d.downloads > 0);
	const first = before[0];
	if (!first) return null;
	const span = Math.min(BASELINE_DAYS, Math.round((Date.parse(day) - Date.parse(first.day)) / 86_400_000));
	const average = before.reduce((sum, d) => sum + d.downloads, 0) / Math.max(1, span);
	return today > ratio * average ? { day, today, average } : null;
}
