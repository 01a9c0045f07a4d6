import ipaddr from "ipaddr.js";
import { metricsObject } from "../../durable-objects/stubs";
import { config } from "../../schema/config";
import type { ErrorCode } from "../../schema/errors";
import {
	addRouteCounts,
	emptyRouteCounts,
	latencyBucket,
	type MetricsBatch,
	type RouteCounts,
} from "../../schema/metrics/contract";
import { metricsSnapshot } from "../read-tier/metrics";

// This isolate's share of the registry-wide figures: per route, requests by cache outcome and
// status class, a latency histogram and refusals by code; authentication failures; object calls.
// Counters only on the request's path (a Map lookup and a few increments). They travel the way
// download counts do (worker/read-tier/downloads.ts): the first request after a batch went starts
// a timer (METRICS_FLUSH_SECONDS, through waitUntil, off the response path), and when it ends the
// counts go to the MetricsDO in one call. An isolate that dies loses at most one interval of its
// own counts.

let routes = new Map<string, RouteCounts>();
let counters = new Map<string, number>();
let sending: Promise<void> | null = null;
/** Object calls already sent (read-tier/metrics.ts counts them since the isolate started). */
let sentObjectCalls: Record<string, number> = {};

/** Route names by pattern and method, built once each: naming a request allocates nothing. */
const routeNames = new Map<string, Map<string, string>>();

/** `GET` and `/@:scope/:pkg/-/:file` → `GET /{name}/-/{file}`. */
export function metricsRouteName(method: string, pattern: string): string {
	let byMethod = routeNames.get(pattern);
	if (!byMethod) {
		byMethod = new Map();
		routeNames.set(pattern, byMethod);
	}
	let name = byMethod.get(method);
	if (name === undefined) {
		name = `${method} ${pattern.replace(/@:scope\/:pkg|:pkg/g, "{name}").replace(/:(\w+)\+?/g, "{$1}")}`;
		byMethod.set(method, name);
	}
	return name;
}

/** The refusal code a response was made from (the router notes it when it turns an HttpError into one). */
const refusalCodes = new WeakMap<Response, ErrorCode>();

export function noteRefusal(response: Response, code: ErrorCode): void {
	refusalCodes.set(response, code);
}

/** One request's figures, once its response is ready. */
export function recordRequest(
	env: Env,
	ctx: ExecutionContext,
	route: string,
	response: Response,
	started: number,
): void {
	if (!config(env).collectMetrics) return;
	let counts = routes.get(route);
	if (!counts) {
		counts = emptyRouteCounts();
		routes.set(route, counts);
	}
	counts.requests += 1;
	const status = response.status;
	if (status < 300) counts.s2xx += 1;
	else if (status < 400) counts.s3xx += 1;
	else if (status < 500) counts.s4xx += 1;
	else counts.s5xx += 1;
	const outcome = response.headers.get("x-registry-cache");
	if (outcome === "hit" || outcome === "miss" || outcome === "revalidated" || outcome === "bypass")
		counts[outcome] += 1;
	const bucket = latencyBucket(Date.now() - started);
	counts.histogram[bucket] = (counts.histogram[bucket] ?? 0) + 1;
	if (status >= 400) {
		const code = refusalCodes.get(response) ?? String(status);
		counts.refused[code] = (counts.refused[code] ?? 0) + 1;
	}
	schedule(env, ctx);
}

/** Most distinct counter names one batch carries: events named by address or user cannot grow it without bound. */
const MAX_COUNTERS = 500;

/** A registry-level event: `auth.failed`, `auth.failed.kind.<code>`, `auth.failed.from.<range>`… */
export function countEvent(name: string, n = 1): void {
	const current = counters.get(name);
	if (current === undefined && counters.size >= MAX_COUNTERS) {
		counters.set("counters.dropped", (counters.get("counters.dropped") ?? 0) + n);
		return;
	}
	counters.set(name, (current ?? 0) + n);
}

/** A failed authentication: counted, by kind, by the client's address range (/24, /48), and by the name it tried. */
export function countAuthFailure(kind: string, ip: string | null, user: string | null = null): void {
	countEvent("auth.failed");
	countEvent(`auth.failed.kind.${kind}`);
	countEvent(`auth.failed.from.${addressRange(ip)}`);
	if (user !== null) countEvent(`auth.failed.user.${user.slice(0, 64)}`);
}

/** A token wrote (publish, tag, channel move…) from an address: the MetricsDO notes ranges new to it. */
export function countTokenWrite(prefix: string, ip: string | null): void {
	countEvent(`token.write.${prefix} ${addressRange(ip)}`);
}

/** The /24 (IPv4) or /48 (IPv6) an address belongs to: how the dashboard groups where refusals come from. */
export function addressRange(ip: string | null): string {
	if (ip === null || !ipaddr.isValid(ip)) return "unknown";
	const address = ipaddr.process(ip);
	const bits = address.kind() === "ipv4" ? 24 : 48;
	const bytes = address.toByteArray();
	const kept = bytes.map((b, i) => (i * 8 < bits ? b : 0));
	return `${ipaddr.fromByteArray(kept).toString()}/${bits}`;
}

function schedule(env: Env, ctx: ExecutionContext): void {
	if (sending) return;
	const wait = config(env).metricsFlushMs;
	sending = new Promise<void>((resolve) => setTimeout(resolve, wait)).then(() => sendMetrics(env));
	ctx.waitUntil(sending);
}

/** The counts since the last batch, taken (the next batch starts from zero). */
export function takeBatch(now = Date.now()): MetricsBatch | null {
	const calls = metricsSnapshot().objectCalls as Record<string, number>;
	for (const [kind, total] of Object.entries(calls)) {
		const delta = total - (sentObjectCalls[kind] ?? 0);
		if (delta > 0) counters.set(`object.${kind}`, (counters.get(`object.${kind}`) ?? 0) + delta);
	}
	sentObjectCalls = { ...calls };
	if (routes.size === 0 && counters.size === 0) return null;
	const batch: MetricsBatch = { at: now, routes: Object.fromEntries(routes), counters: Object.fromEntries(counters) };
	routes = new Map();
	counters = new Map();
	return batch;
}

/** Sends the pending counts now (the timer does this; tests call it so as not to wait). */
export async function sendMetrics(env: Env): Promise<void> {
	sending = null;
	const batch = takeBatch();
	if (!batch) return;
	try {
		await metricsObject(env).ingest(batch);
	} catch (error) {
		// Put back: the next batch carries them.
		for (const [route, counts] of Object.entries(batch.routes)) {
			routes.set(route, addRouteCounts(routes.get(route) ?? emptyRouteCounts(), counts));
		}
		for (const [name, n] of Object.entries(batch.counters)) countEvent(name, n);
		console.error("could not send metrics", error);
	}
}
