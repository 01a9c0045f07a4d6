import { env, runInDurableObject } from "cloudflare:test";
import { type PublishOptions, publishBody } from "./registry";

// The upstream registries of tests/upstream-*.test.ts: real instances of this registry behind a
// network Worker that records every request (vitest.config.ts, tests/e2e/upstream-workers.ts).
// Test code's own fetches go through that network too, so tests publish to upstream directly.

export const UPSTREAM = "http://upstream.test";
export const SECOND_UPSTREAM = "http://second-upstream.test";
/** Used by the test of the upstream figures only. */
export const THIRD_UPSTREAM = "http://third-upstream.test";
const UPSTREAM_ADMIN = "upstream-admin-token";

export const ABBREVIATED = "application/vnd.npm.install-v1+json";

/** Publishes `name@version` to an upstream registry, as its admin. */
export async function publishUpstream(
	name: string,
	version: string,
	options: PublishOptions & { registry?: string } = {},
): Promise<{ integrity: string; shasum: string; tgz: Uint8Array<ArrayBuffer> }> {
	const { body, sums, tgz } = await publishBody(name, version, { access: "public", ...options });
	const res = await fetch(`${options.registry ?? UPSTREAM}/${name.replace("/", "%2f")}`, {
		method: "PUT",
		headers: { authorization: `Bearer ${UPSTREAM_ADMIN}`, "content-type": "application/json" },
		body: JSON.stringify(body),
	});
	if (res.status !== 201) throw new Error(`upstream publish of ${name}@${version}: ${res.status} ${await res.text()}`);
	return { ...sums, tgz };
}

export type LoggedRequest = {
	host: string;
	method: string;
	path: string;
	accept: string | null;
	ifNoneMatch: string | null;
	authorized: boolean;
	/** Upstream's status; null when the request never reached it (the host was cut off). */
	status: number | null;
	/** How many requests for the same path were still unanswered when this one came in. */
	overlapping: number;
};

/** What upstream was asked about a name (its packument, version documents and tarballs), GETs only. */
export async function upstreamRequests(name: string, host = "upstream.test"): Promise<LoggedRequest[]> {
	const log = (await (await fetch("http://network.control/log")).json()) as LoggedRequest[];
	return log.filter(
		(entry) =>
			entry.host === host &&
			entry.method === "GET" &&
			(entry.path === `/${name}` || entry.path.startsWith(`/${name}/`)),
	);
}

/** Takes an upstream off the network (requests to it fail as to a stopped server), or back. */
export async function cut(host = "upstream.test"): Promise<void> {
	await fetch(`http://network.control/cut?host=${host}`);
}
export async function restore(host = "upstream.test"): Promise<void> {
	await fetch(`http://network.control/restore?host=${host}`);
}

/** Alters the bytes upstream answers for a path on their way here (one byte flipped), or stops. */
export async function tamper(path: string): Promise<void> {
	await fetch(`http://network.control/tamper?path=${encodeURIComponent(path)}`);
}
export async function untamper(path: string): Promise<void> {
	await fetch(`http://network.control/untamper?path=${encodeURIComponent(path)}`);
}

/** Has upstream's answers for a path arrive without a Content-Length. */
export async function unsized(path: string): Promise<void> {
	await fetch(`http://network.control/unsized?path=${encodeURIComponent(path)}`);
}

/** Has upstream take requests for a path and never answer them. */
export async function hang(path: string): Promise<void> {
	await fetch(`http://network.control/hang?path=${encodeURIComponent(path)}`);
}

/** Has upstream answer a path with `doc` instead of its own answer (#22.10). */
export async function substitute(path: string, doc: unknown): Promise<void> {
	await fetch(`http://network.control/substitute?path=${encodeURIComponent(path)}`, {
		method: "POST",
		body: JSON.stringify(doc),
	});
}

/** Has upstream answer 503 for a path (#22.11). */
export async function failPath(path: string): Promise<void> {
	await fetch(`http://network.control/fail?path=${encodeURIComponent(path)}`);
}

/** Has upstream send a path's bytes one every 500 ms (#22.3). */
export async function slow(path: string): Promise<void> {
	await fetch(`http://network.control/slow?path=${encodeURIComponent(path)}`);
}

/** Has upstream send half of a path's bytes and then nothing, the body never ending (#22.3). */
export async function stall(path: string): Promise<void> {
	await fetch(`http://network.control/stall?path=${encodeURIComponent(path)}`);
}

export function packageObject(name: string) {
	return env.PACKAGES.get(env.PACKAGES.idFromName(name));
}

/**
 * Makes the object's copies of a name's upstream documents `ms` older, as if that much time had
 * passed. White-box on purpose: freshness is a matter of minutes, and tests do not wait.
 */
export async function ageCopies(name: string, ms: number): Promise<void> {
	await runInDurableObject(packageObject(name), async (instance, state) => {
		await storesSettled(instance);
		// A 404 for a name with no storage is kept in the object's memory (#22.2).
		const mirror = (instance as unknown as { upstream: { absent: { at: number } | null } }).upstream;
		if (mirror.absent) mirror.absent.at -= ms;
		if (tableNames(state).includes("upstream_documents")) {
			state.storage.sql.exec(
				"UPDATE upstream_documents SET fetched_at = fetched_at - ?, failed_at = failed_at - ?",
				ms,
				ms,
			);
		}
	});
}

/**
 * Waits for the refreshes the object runs in the background (after serving a stale copy). White-box:
 * nothing outside the object can tell when a background refresh has finished.
 */
export async function backgroundSettled(name: string): Promise<void> {
	await runInDurableObject(packageObject(name), async (instance) => {
		const mirror = (instance as unknown as { upstream: { refreshes: Map<string, Promise<unknown>> } }).upstream;
		await Promise.all([...mirror.refreshes.values()]);
	});
}

/**
 * Waits for the documents the object answered with before storing them (#25) to be stored: a
 * request to the object waits for them by itself, a look at its tables from a test does not.
 */
async function storesSettled(instance: unknown): Promise<void> {
	await (instance as { upstream: { unstored: { settled(): Promise<void> } } }).upstream.unstored.settled();
}

/** The tables of an object's database (none for an object that never stored anything). */
export function tableNames(state: DurableObjectState): string[] {
	return state.storage.sql
		.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
		.toArray()
		.map((row) => row.name);
}

/** The tables a package object's database has: none for a name that was only ever read. */
export async function packageTables(name: string): Promise<string[]> {
	return runInDurableObject(packageObject(name), async (instance, state) => {
		await storesSettled(instance);
		return tableNames(state);
	});
}

/**
 * Waits for the object's tarball fetches in flight to end (stored, or failed and cleaned up).
 * White-box: a client's download fails before the object has aborted its upload to R2.
 */
export async function tarballFetchesSettled(name: string): Promise<void> {
	await runInDurableObject(packageObject(name), async (instance) => {
		const mirror = (instance as unknown as { upstream: { fetches: Map<string, Promise<unknown>> } }).upstream;
		await Promise.all([...mirror.fetches.values()]);
	});
}
