import { metricsObject } from "../../durable-objects/stubs";
import { admin } from "../guards";
import { json } from "../http";
import { traceSnapshot } from "../metrics/trace";
import { memoryStats } from "../read-tier/memory";
import { metricsSnapshot } from "../read-tier/metrics";

/**
 * GET /-/admin/metrics: the registry-wide figures (`registry`: per window of 5 minutes, an hour and
 * a day, per route and for every route together: counts, hit rate, error rates, p50/p95/p99
 * latency; the registry's counters; the alerts firing and recent), summed from every isolate's
 * batches by the MetricsDO; and, as before, this isolate's own read-tier counters, with its object
 * calls by method and R2 reads (metrics/trace.ts).
 */
export const readMetrics = admin({ auth: "admin", cache: "none" }, async ({ env }) =>
	json({
		...metricsSnapshot(),
		...traceSnapshot(),
		memory: memoryStats(),
		registry: await metricsObject(env).summary(),
	}),
);
