import type { PackageRow } from "../../schema/package/rows";
import { metricsObject } from "../stubs";

// One of the alarm's jobs: tell the MetricsDO how many bytes of R2 the package's tarballs take, for
// the storage alert (ALERT_STORAGE_BYTES). Sent once per revision (and once after the object
// restarts): a download-count flush, which changes no bytes, sends nothing. A failed report is
// sent again by the next alarm.

export class StorageReport {
	private reportedRev: number | null = null;

	constructor(
		private readonly sql: SqlStorage,
		private readonly env: Env,
	) {}

	async deliver(pkg: PackageRow): Promise<void> {
		if (this.reportedRev === pkg.rev) return;
		const bytes = this.sql
			.exec<{ bytes: number }>(`SELECT coalesce(sum(tarball_size), 0) AS bytes FROM versions`)
			.one().bytes;
		try {
			await metricsObject(this.env).reportStorage(pkg.name, bytes);
			this.reportedRev = pkg.rev;
		} catch (error) {
			console.error(`could not report the storage of ${pkg.name}`, error);
		}
	}
}
