// What this isolate's reads did since it started: reads by route and cache outcome, calls made to
// each kind of object, download batches sent. GET /-/admin/metrics shows these counters; where a
// Workers Analytics Engine dataset is bound (READ_METRICS), every read is also written there, so
// an operator can watch the hit rate and latency over time. Locally the binding may be absent.

export type CacheOutcome = "hit" | "miss" | "revalidated" | "bypass";
export type ObjectKind = "package" | "token" | "auth" | "index";

// Not read at module scope: there workerd's clock stands at 1970-01-01 (#24.9). The isolate's
// first counted event starts the period.
let startedAt: string | null = null;
const reads = new Map<string, Record<CacheOutcome, number>>();
const objectCalls: Record<ObjectKind, number> = { package: 0, token: 0, auth: 0, index: 0 };
let downloadBatches = 0;

export function recordRead(env: Env, route: string, outcome: CacheOutcome, started: number): void {
	startedAt ??= new Date().toISOString();
	let counts = reads.get(route);
	if (!counts) {
		counts = { hit: 0, miss: 0, revalidated: 0, bypass: 0 };
		reads.set(route, counts);
	}
	counts[outcome] += 1;
	env.READ_METRICS?.writeDataPoint({ indexes: [route], blobs: [route, outcome], doubles: [Date.now() - started] });
}

export function recordObjectCall(kind: ObjectKind): void {
	startedAt ??= new Date().toISOString();
	objectCalls[kind] += 1;
}

export function recordDownloadBatch(): void {
	downloadBatches += 1;
}

export function metricsSnapshot() {
	return {
		since: startedAt ?? new Date().toISOString(),
		reads: Object.fromEntries(reads),
		objectCalls: { ...objectCalls },
		downloadBatches,
	};
}
