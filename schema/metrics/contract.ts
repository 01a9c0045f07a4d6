// Registry-wide figures: what each isolate counts and sends in batches (worker/metrics/isolate.ts),
// how the MetricsDO keeps them (per minute for a day, per hour for 30 days) and how
// GET /-/admin/metrics summarises them.

/**
 * Upper bounds (ms) of the latency histogram's buckets; one more bucket holds everything slower.
 * About 25 % apart: a percentile read from it is the bound of its bucket, at most that far above
 * the true value.
 */
export const LATENCY_BOUNDS_MS = [
	1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250, 300, 400, 500, 600, 800, 1000,
	1200, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000, 15000, 20000, 30000, 60000,
] as const;
export const HISTOGRAM_BUCKETS = LATENCY_BOUNDS_MS.length + 1;
/** What a percentile in the last bucket (slower than every bound) is shown as. */
const SLOWEST_MS = 120_000;

/** The bucket a latency falls in (binary search: the hot path pays a handful of comparisons). */
export function latencyBucket(ms: number): number {
	let low = 0;
	let high: number = LATENCY_BOUNDS_MS.length;
	while (low < high) {
		const mid = (low + high) >> 1;
		if (ms <= (LATENCY_BOUNDS_MS[mid] ?? Number.POSITIVE_INFINITY)) high = mid;
		else low = mid + 1;
	}
	return low;
}

/** The q-quantile (0..1) of a histogram, as its bucket's upper bound; null when it is empty. */
export function percentile(histogram: readonly number[], q: number): number | null {
	const total = histogram.reduce((a, b) => a + b, 0);
	if (total === 0) return null;
	const rank = Math.max(1, Math.ceil(q * total));
	let seen = 0;
	for (let i = 0; i < histogram.length; i++) {
		seen += histogram[i] ?? 0;
		if (seen >= rank) return LATENCY_BOUNDS_MS[i] ?? SLOWEST_MS;
	}
	return null;
}

export const CACHE_OUTCOMES = ["hit", "miss", "revalidated", "bypass"] as const;
export type CacheOutcomeName = (typeof CACHE_OUTCOMES)[number];

/** One route's counts over some time. */
export type RouteCounts = {
	requests: number;
	/** By x-registry-cache outcome; requests without one are in none. */
	hit: number;
	miss: number;
	revalidated: number;
	bypass: number;
	/** By status class. */
	s2xx: number;
	s3xx: number;
	s4xx: number;
	s5xx: number;
	/** Requests per latency bucket (LATENCY_BOUNDS_MS). */
	histogram: number[];
	/** Refusals by their catalogue code (schema/errors.ts). */
	refused: Record<string, number>;
};

/** What one isolate sends: its counts since its last batch. */
export type MetricsBatch = {
	/** When the batch was sent (ms): its counts are filed under that minute. */
	at: number;
	routes: Record<string, RouteCounts>;
	/** Registry-level counts: `auth.failed`, `auth.failed.<code>`, `object.<kind>`, `downloads.<name>`… */
	counters: Record<string, number>;
};

export function emptyRouteCounts(): RouteCounts {
	return {
		requests: 0,
		hit: 0,
		miss: 0,
		revalidated: 0,
		bypass: 0,
		s2xx: 0,
		s3xx: 0,
		s4xx: 0,
		s5xx: 0,
		histogram: new Array<number>(HISTOGRAM_BUCKETS).fill(0),
		refused: {},
	};
}

/** Adds `more` into `into`. */
export function addRouteCounts(into: RouteCounts, more: RouteCounts): RouteCounts {
	into.requests += more.requests;
	into.hit += more.hit;
	into.miss += more.miss;
	into.revalidated += more.revalidated;
	into.bypass += more.bypass;
	into.s2xx += more.s2xx;
	into.s3xx += more.s3xx;
	into.s4xx += more.s4xx;
	into.s5xx += more.s5xx;
	for (let i = 0; i < HISTOGRAM_BUCKETS; i++) into.histogram[i] = (into.histogram[i] ?? 0) + (more.histogram[i] ?? 0);
	for (const [code, n] of Object.entries(more.refused)) into.refused[code] = (into.refused[code] ?? 0) + n;
	return into;
}

/** A route's figures over one window, as the metrics endpoint and the dashboard show them. */
export type RouteSummary = {
	requests: number;
	/** Hits over requests that went through the read tier (hit, miss, revalidated); null: none did. */
	hitRate: number | null;
	/** 4xx and 5xx over requests; null: no requests. */
	clientErrorRate: number | null;
	serverErrorRate: number | null;
	p50: number | null;
	p95: number | null;
	p99: number | null;
	cache: Record<CacheOutcomeName, number>;
	status: { "2xx": number; "3xx": number; "4xx": number; "5xx": number };
	refused: Record<string, number>;
};

export function summarise(counts: RouteCounts): RouteSummary {
	const tiered = counts.hit + counts.miss + counts.revalidated;
	const rate = (n: number, of: number) => (of === 0 ? null : n / of);
	return {
		requests: counts.requests,
		hitRate: rate(counts.hit, tiered),
		clientErrorRate: rate(counts.s4xx, counts.requests),
		serverErrorRate: rate(counts.s5xx, counts.requests),
		p50: percentile(counts.histogram, 0.5),
		p95: percentile(counts.histogram, 0.95),
		p99: percentile(counts.histogram, 0.99),
		cache: { hit: counts.hit, miss: counts.miss, revalidated: counts.revalidated, bypass: counts.bypass },
		status: { "2xx": counts.s2xx, "3xx": counts.s3xx, "4xx": counts.s4xx, "5xx": counts.s5xx },
		refused: counts.refused,
	};
}

export const WINDOWS = { "5m": 5, "1h": 60, "1d": 1440 } as const;
export type WindowName = keyof typeof WINDOWS;

export type WindowFigures = {
	/** Every route together. */
	all: RouteSummary;
	routes: Record<string, RouteSummary>;
	counters: Record<string, number>;
	/** Object calls per 1,000 requests of the read tier's routes; null: no such request. */
	objectCallsPer1000Reads: number | null;
};

/** One point of a chart: a minute (or hour) and the figures of every route together then. */
export type SeriesPoint = {
	at: string;
	requests: number;
	p95: number | null;
	errorRate: number | null;
	hitRate: number | null;
	authFailed: number;
	publishRefused: number;
};
