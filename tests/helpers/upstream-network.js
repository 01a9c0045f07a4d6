// The network between the registry under test and its upstream registries: an auxiliary Worker
// of the "upstream" test project through which every outbound fetch of the registry goes (its
// `outboundService`). It forwards each request to the registry its host names (a real instance of
// this registry, see tests/e2e/upstream-workers.ts) and records what was asked and answered. A test
// can cut a host off, as a stopped server behind a gateway would be (502), or have the bytes of one
// path altered on the way, as a broken mirror or a man in the middle would. Tests reach it at
// http://network.control/.

/** @type {{ host: string; method: string; path: string; accept: string | null; ifNoneMatch: string | null; authorized: boolean; status: number | null; overlapping: number }[]} */
const log = [];
/** Requests forwarded and not answered yet, by host and path. */
const inFlight = new Map();
/** @type {Set<string>} */
const cut = new Set();
/** @type {Set<string>} */
const tampered = new Set();
/** @type {Set<string>} */
const unsized = new Set();
/** @type {Set<string>} */
const hung = new Set();

export default {
	/** @param {Request} request @param {Record<string, Fetcher>} env */
	async fetch(request, env) {
		const url = new URL(request.url);
		if (url.hostname === "network.control") return control(url);
		const upstream = env[`HOST_${url.hostname.replaceAll(/[^a-z0-9]/gi, "_").toUpperCase()}`];
		if (!upstream) return unreachable(`getaddrinfo ENOTFOUND ${url.hostname}`);
		const key = `${url.hostname}${url.pathname}`;
		const entry = {
			host: url.hostname,
			method: request.method,
			path: decodeURIComponent(url.pathname),
			accept: request.headers.get("accept"),
			ifNoneMatch: request.headers.get("if-none-match"),
			authorized: request.headers.has("authorization"),
			status: null,
			// How many requests for the same path were still unanswered when this one came in.
			overlapping: inFlight.get(key) ?? 0,
		};
		log.push(entry);
		if (cut.has(url.hostname)) return unreachable(`connect ECONNREFUSED ${url.hostname}`);
		// An upstream that takes the request and never answers: until the caller gives up.
		if (hung.has(entry.path)) await new Promise((resolve) => setTimeout(resolve, 60_000));
		inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
		const response = await upstream.fetch(request).finally(() => inFlight.set(key, (inFlight.get(key) ?? 1) - 1));
		entry.status = response.status;
		// Streamed on through a TransformStream, the body goes out without a Content-Length.
		if (unsized.has(entry.path)) return new Response(response.body?.pipeThrough(new TransformStream()), response);
		if (!tampered.has(entry.path) || response.status !== 200) return response;
		// One byte flipped in the middle: same length, different digest.
		const bytes = new Uint8Array(await response.arrayBuffer());
		bytes[bytes.length >> 1] ^= 0xff;
		return new Response(bytes, response);
	},
};

/**
 * A host that cannot be reached answers as a gateway in front of it would: 502, with the reason.
 * Throwing would do as well for the registry (its fetch fails either way) but logs an uncaught
 * exception in this Worker for every such request, noise in every green run (#23.6).
 * @param {string} reason
 */
function unreachable(reason) {
	return new Response(reason, { status: 502, headers: { "content-type": "text/plain" } });
}

/**
 * GET /log: every request so far. /cut?host= and /restore?host= take a host off the network and
 * back; /tamper?path= and /untamper?path= start and stop altering the bytes answered for a path;
 * /unsized?path= sends them without a Content-Length; /hang?path= never answers for a path.
 * @param {URL} url
 */
function control(url) {
	if (url.pathname === "/log") return Response.json(log);
	const host = url.searchParams.get("host") ?? "";
	const path = url.searchParams.get("path") ?? "";
	if (url.pathname === "/cut") cut.add(host);
	else if (url.pathname === "/restore") cut.delete(host);
	else if (url.pathname === "/tamper") tampered.add(path);
	else if (url.pathname === "/untamper") tampered.delete(path);
	else if (url.pathname === "/unsized") unsized.add(path);
	else if (url.pathname === "/hang") hung.add(path);
	else return new Response("unknown control", { status: 404 });
	return Response.json({ cut: [...cut], tampered: [...tampered] });
}
