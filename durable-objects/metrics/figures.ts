import {
	addRouteCounts,
	emptyRouteCounts,
	type MetricsBatch,
	type RouteCounts,
	type SeriesPoint,
	summarise,
	WINDOWS,
	type WindowFigures,
	type WindowName,
} from "../../schema/metrics/contract";

// The MetricsDO's tables of figures: batches summed per minute, minutes older than a day rolled
// up per hour, hours older than 30 days dropped; windows summed back for the metrics endpoint.

export const MINUTE_MS = 60_000;
/** Counters `token.write.<prefix> <range>`: a token wrote from an address range (worker/metrics/isolate.ts). */
export const TOKEN_WRITE = "token.write.";
const HOUR_MS = 3_600_000;
const KEEP_MINUTES_MS = 86_400_000;
const KEEP_HOURS_MS = 30 * 86_400_000;

/** Routes of the read tier: their requests are the reads object calls are counted against. */
export function isReadRoute(route: string): boolean {
	return route.startsWith("GET ");
}

/** The routes publishes and uploads arrive on. */
export function isPublishRoute(route: string): boolean {
	return route === "PUT /{name}" || route === "POST /packages/{name}/upload";
}

export class Figures {
	constructor(private readonly sql: SqlStorage) {}

	/** Adds one isolate's batch to the minute it was sent in (call inside a transaction). */
	ingest(batch: MetricsBatch): void {
		const minute = Math.floor(batch.at / MINUTE_MS);
		// The batches themselves: calls to this object, for the benchmark and the dashboard.
		this.sql.exec(
			`INSERT INTO counter_minutes (minute, name, value) VALUES (?, 'metrics.batches', 1)
			 ON CONFLICT (minute, name) DO UPDATE SET value = value + 1`,
			minute,
		);
		for (const [route, counts] of Object.entries(batch.routes)) {
			const row = this.sql
				.exec<{ counts: string }>(`SELECT counts FROM route_minutes WHERE minute = ? AND route = ?`, minute, route)
				.toArray()[0];
			const sum = addRouteCounts(row ? (JSON.parse(row.counts) as RouteCounts) : emptyRouteCounts(), counts);
			this.sql.exec(
				`INSERT OR REPLACE INTO route_minutes (minute, route, counts) VALUES (?, ?, ?)`,
				minute,
				route.slice(0, 200),
				JSON.stringify(sum),
			);
		}
		for (const [name, value] of Object.entries(batch.counters)) {
			if (name.startsWith(TOKEN_WRITE)) {
				this.tokenRange(name.slice(TOKEN_WRITE.length), batch.at);
				continue;
			}
			this.sql.exec(
				`INSERT INTO counter_minutes (minute, name, value) VALUES (?, ?, ?)
				 ON CONFLICT (minute, name) DO UPDATE SET value = value + excluded.value`,
				minute,
				name.slice(0, 200),
				value,
			);
		}
	}

	/** A token (prefix) wrote from a range: remembered, and noted when the token had written only from others. */
	private tokenRange(key: string, at: number): void {
		const [prefix = "", range = ""] = key.split(" ");
		const known = this.sql
			.exec<{ range: string }>(`SELECT range FROM token_ranges WHERE prefix = ?`, prefix)
			.toArray()
			.map((r) => r.range);
		if (known.includes(range)) return;
		this.sql.exec(`INSERT INTO token_ranges (prefix, range, first_seen) VALUES (?, ?, ?)`, prefix, range, at);
		if (known.length > 0) {
			this.sql.exec(`INSERT INTO token_new_ranges (prefix, range, at) VALUES (?, ?, ?)`, prefix, range, at);
		}
	}

	/** Tokens that wrote from an address range they had never written from, newest first. */
	newTokenRanges(limit = 50): { prefix: string; range: string; at: string }[] {
		return this.sql
			.exec<{ prefix: string; range: string; at: number }>(
				`SELECT prefix, range, at FROM token_new_ranges ORDER BY id DESC LIMIT ?`,
				limit,
			)
			.toArray()
			.map((r) => ({ prefix: r.prefix, range: r.range, at: new Date(r.at).toISOString() }));
	}

	/** Minutes older than a day become hours; hours older than 30 days go (call inside a transaction). */
	rollUp(now: number): void {
		const before = Math.floor((now - KEEP_MINUTES_MS) / MINUTE_MS);
		const old = this.sql
			.exec<{ minute: number; route: string; counts: string }>(
				`SELECT minute, route, counts FROM route_minutes WHERE minute < ?`,
				before,
			)
			.toArray();
		const hours = new Map<string, RouteCounts>();
		for (const row of old) {
			const key = `${Math.floor((row.minute * MINUTE_MS) / HOUR_MS)}\u0000${row.route}`;
			hours.set(key, addRouteCounts(hours.get(key) ?? emptyRouteCounts(), JSON.parse(row.counts) as RouteCounts));
		}
		for (const [key, counts] of hours) {
			const [hour, route] = key.split("\u0000");
			const row = this.sql
				.exec<{ counts: string }>(`SELECT counts FROM route_hours WHERE hour = ? AND route = ?`, Number(hour), route)
				.toArray()[0];
			const sum = row ? addRouteCounts(JSON.parse(row.counts) as RouteCounts, counts) : counts;
			this.sql.exec(
				`INSERT OR REPLACE INTO route_hours (hour, route, counts) VALUES (?, ?, ?)`,
				Number(hour),
				route,
				JSON.stringify(sum),
			);
		}
		this.sql.exec(
			`INSERT INTO counter_hours (hour, name, value)
			 SELECT minute * ${MINUTE_MS} / ${HOUR_MS}, name, sum(value) FROM counter_minutes WHERE minute < ? GROUP BY 1, 2
			 ON CONFLICT (hour, name) DO UPDATE SET value = value + excluded.value`,
			before,
		);
		this.sql.exec(`DELETE FROM route_minutes WHERE minute < ?`, before);
		this.sql.exec(`DELETE FROM counter_minutes WHERE minute < ?`, before);
		const hourBefore = Math.floor((now - KEEP_HOURS_MS) / HOUR_MS);
		this.sql.exec(`DELETE FROM route_hours WHERE hour < ?`, hourBefore);
		this.sql.exec(`DELETE FROM counter_hours WHERE hour < ?`, hourBefore);
	}

	/** Every route's counts and the counters over the last `minutes` minutes (the current one included). */
	window(now: number, minutes: number): { routes: Map<string, RouteCounts>; counters: Record<string, number> } {
		const from = Math.floor(now / MINUTE_MS) - minutes + 1;
		const routes = new Map<string, RouteCounts>();
		for (const row of this.sql.exec<{ route: string; counts: string }>(
			`SELECT route, counts FROM route_minutes WHERE minute >= ?`,
			from,
		)) {
			routes.set(
				row.route,
				addRouteCounts(routes.get(row.route) ?? emptyRouteCounts(), JSON.parse(row.counts) as RouteCounts),
			);
		}
		const counters: Record<string, number> = {};
		for (const row of this.sql.exec<{ name: string; value: number }>(
			`SELECT name, sum(value) AS value FROM counter_minutes WHERE minute >= ? GROUP BY name`,
			from,
		)) {
			counters[row.name] = row.value;
		}
		return { routes, counters };
	}

	/** The figures of one window, per route and for every route together. */
	figures(now: number, window: WindowName): WindowFigures {
		const { routes, counters } = this.window(now, WINDOWS[window]);
		const all = emptyRouteCounts();
		let reads = 0;
		for (const [route, counts] of routes) {
			addRouteCounts(all, counts);
			if (isReadRoute(route)) reads += counts.requests;
		}
		const objectCalls = Object.entries(counters)
			.filter(([name]) => name.startsWith("object."))
			.reduce((sum, [, n]) => sum + n, 0);
		return {
			all: summarise(all),
			routes: Object.fromEntries([...routes].map(([route, counts]) => [route, summarise(counts)])),
			counters,
			objectCallsPer1000Reads: reads === 0 ? null : (objectCalls * 1000) / reads,
		};
	}

	/** Per-minute points of the last `minutes` minutes, for the dashboard's charts. */
	series(now: number, minutes: number): SeriesPoint[] {
		const from = Math.floor(now / MINUTE_MS) - minutes + 1;
		const byMinute = new Map<number, { counts: RouteCounts; publishRefused: number }>();
		for (const row of this.sql.exec<{ minute: number; route: string; counts: string }>(
			`SELECT minute, route, counts FROM route_minutes WHERE minute >= ? ORDER BY minute`,
			from,
		)) {
			const point = byMinute.get(row.minute) ?? { counts: emptyRouteCounts(), publishRefused: 0 };
			const counts = JSON.parse(row.counts) as RouteCounts;
			addRouteCounts(point.counts, counts);
			if (isPublishRoute(row.route)) point.publishRefused += counts.s4xx + counts.s5xx;
			byMinute.set(row.minute, point);
		}
		const authFailed = new Map<number, number>();
		for (const row of this.sql.exec<{ minute: number; value: number }>(
			`SELECT minute, value FROM counter_minutes WHERE minute >= ? AND name = 'auth.failed'`,
			from,
		)) {
			authFailed.set(row.minute, row.value);
		}
		const points: SeriesPoint[] = [];
		for (let minute = from; minute <= from + minutes - 1; minute++) {
			const point = byMinute.get(minute);
			const summary = summarise(point?.counts ?? emptyRouteCounts());
			points.push({
				at: new Date(minute * MINUTE_MS).toISOString(),
				requests: summary.requests,
				p95: summary.p95,
				errorRate: summary.serverErrorRate,
				hitRate: summary.hitRate,
				authFailed: authFailed.get(minute) ?? 0,
				publishRefused: point?.publishRefused ?? 0,
			});
		}
		return points;
	}

	/** The R2 bytes every package's tarballs take, as their objects reported them. */
	storageBytes(): number {
		return this.sql.exec<{ bytes: number }>(`SELECT coalesce(sum(bytes), 0) AS bytes FROM package_storage`).one().bytes;
	}

	/** Packages whose downloads spike today (UTC), most over their average first. */
	downloadSpikes(now: number): { name: string; today: number; average: number }[] {
		return this.sql
			.exec<{ name: string; today: number; average: number }>(
				`SELECT name, today, average FROM download_spikes WHERE day = ? ORDER BY today / max(average, 1e-9) DESC LIMIT 10`,
				new Date(now).toISOString().slice(0, 10),
			)
			.toArray();
	}
}
