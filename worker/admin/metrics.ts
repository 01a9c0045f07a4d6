import { admin } from "../guards";
import { json } from "../http";
import { memoryStats } from "../read-tier/memory";
import { metricsSnapshot } from "../read-tier/metrics";

/** GET /-/admin/metrics: this isolate's reads by route and cache outcome, object calls, download batches. */
export const readMetrics = admin({ auth: "admin", cache: "none" }, async () =>
	json({ ...metricsSnapshot(), memory: memoryStats() }),
);
