import type { DayCount } from "../../schema/package/contract";

// Download counts of one package, per UTC day and version. Downloads are counted in memory (a Map
// increment inside the tarball lookup the Worker makes anyway) and flushed to SQLite in one
// statement per (day, version) on the object's alarm, so heavy download traffic never turns into
// one SQL write per request. Counts not yet flushed are lost if the object is evicted first.

export class Downloads {
	private readonly buffer = new Map<string, number>();

	constructor(private readonly sql: SqlStorage) {}

	count(version: string, times = 1, at = new Date()): void {
		const key = `${at.toISOString().slice(0, 10)}\t${version}`;
		this.buffer.set(key, (this.buffer.get(key) ?? 0) + times);
	}

	get pending(): boolean {
		return this.buffer.size > 0;
	}

	/** Writes the buffered counts; the caller runs it inside a transaction. */
	flush(): void {
		for (const [key, count] of this.buffer) {
			const [day, version] = key.split("\t");
			this.sql.exec(
				`INSERT INTO downloads (day, version, count) VALUES (?, ?, ?)
				 ON CONFLICT (day, version) DO UPDATE SET count = count + excluded.count`,
				day,
				version,
				count,
			);
		}
		this.buffer.clear();
	}

	/** Per-day totals between two UTC days (inclusive), flushed and buffered counts together. */
	perDay(start: string, end: string): DayCount[] {
		return [...this.totals("day", start, end)]
			.map(([day, downloads]) => ({ day, downloads }))
			.sort((a, b) => a.day.localeCompare(b.day));
	}

	/** Per-version totals between two UTC days (inclusive), flushed and buffered counts together. */
	perVersion(start: string, end: string): Record<string, number> {
		return Object.fromEntries(this.totals("version", start, end));
	}

	private totals(by: "day" | "version", start: string, end: string): Map<string, number> {
		const totals = new Map<string, number>();
		for (const row of this.sql
			.exec<{ key: string; n: number }>(
				`SELECT ${by} AS key, sum(count) AS n FROM downloads WHERE day BETWEEN ? AND ? GROUP BY ${by}`,
				start,
				end,
			)
			.toArray()) {
			totals.set(row.key, row.n);
		}
		for (const [key, count] of this.buffer) {
			const [day = "", version = ""] = key.split("\t");
			const group = by === "day" ? day : version;
			if (day >= start && day <= end) totals.set(group, (totals.get(group) ?? 0) + count);
		}
		return totals;
	}

	/** Per-day totals of the last `days` UTC days, today included. */
	lastDays(days: number, now = new Date()): DayCount[] {
		const end = now.toISOString().slice(0, 10);
		const start = new Date(now.getTime() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
		return this.perDay(start, end);
	}

	/** Downloads over the last seven UTC days, today included: what search ranks popularity by. */
	weeklyTotal(now = new Date()): number {
		const end = now.toISOString().slice(0, 10);
		const start = new Date(now.getTime() - 6 * 86_400_000).toISOString().slice(0, 10);
		return this.perDay(start, end).reduce((sum, d) => sum + d.downloads, 0);
	}
}
