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
/** Paths upstream answers with the test's own document instead of its own (#22.10). @type {Map<string, string>} */
const substituted = new Map();
/** Paths upstream answers with a 503 (#22.11). @type {Set<string>} */
const failing = new Set();
/** Paths whose bytes trickle: one byte every 500 ms (#22.3). @type {Set<string>} */
const slow = new Set();
/** Paths whose bytes stop halfway, the connection left open (#22.3). @type {Set<string>} */
const stalled = new Set();

export default {
	/** @param {Request} request @param {Record<string, Fetcher>} env */
	async fetch(request, env) {
		const url = new URL(request.url);
		if (url.hostname === "network.control" && url.pathname === "/substitute") {
			substituted.set(url.searchParams.get("path") ?? "", await request.text());
			return Response.json({ substituted: [...substituted.keys()] });
		}
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
		// An upstream that answers a path with a document of the test's making (#22.10).
		const substitute = substituted.get(entry.path);
		if (substitute !== undefined) {
			entry.status = 200;
			return new Response(substitute, { headers: { "content-type": "application/json" } });
		}
		// An upstream that fails for a path: 503, as an overloaded server would (#22.11).
		if (failing.has(entry.path)) {
			entry.status = 503;
			return new Response("service unavailable", { status: 503 });
		}
		// An upstream that takes the request and never answers: until the caller gives up.
		if (hung.has(entry.path)) await new Promise((resolve) => setTimeout(resolve, 60_000));
		inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
		const response = await upstream.fetch(request).finally(() => inFlight.set(key, (inFlight.get(key) ?? 1) - 1));
		entry.status = response.status;
		if (response.status === 200 && (slow.has(entry.path) || stalled.has(entry.path))) {
			return new Response(hostileBody(new Uint8Array(await response.arrayBuffer()), slow.has(entry.path)), response);
		}
		// Streamed on through a TransformStream, the body goes out without a Content-Length.
		const withoutLength = (/** @type {ReadableStream | null} */ body) =>
			new Response(body?.pipeThrough(new TransformStream()), response);
		if (!tampered.has(entry.path) || response.status !== 200) {
			return unsized.has(entry.path) ? withoutLength(response.body) : response;
		}
		// One byte flipped in the middle: same length, different digest.
		const bytes = new Uint8Array(await response.arrayBuffer());
		bytes[bytes.length >> 1] ^= 0xff;
		return unsized.has(entry.path) ? withoutLength(new Response(bytes).body) : new Response(bytes, response);
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
 * /unsized?path= sends them without a Content-Length; /hang?path= never answers for a path;
 * POST /substitute?path= answers a path with the request's body from then on (a JSON document);
 * /fail?path= answers 503 for a path; /slow?path= sends its bytes one every 500 ms; /stall?path= sends half of them, then nothing.
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
	else if (url.pathname === "/slow") slow.add(path);
	else if (url.pathname === "/fail") failing.add(path);
	else if (url.pathname === "/stall") stalled.add(path);
	else return new Response("unknown control", { status: 404 });
	return Response.json({ cut: [...cut], tampered: [...tampered] });
}

/**
 * The bytes as a hostile upstream sends them: `trickle`, one every 500 ms; otherwise the first half
 * at once and then nothing more, the body never ending. Both keep the Content-Length of the whole.
 * @param {Uint8Array} bytes @param {boolean} trickle
 */
function hostileBody(bytes, trickle) {
	const { readable, writable } = new FixedLengthStream(bytes.byteLength);
	const writer = writable.getWriter();
	const send = async () => {
		if (!trickle) {
			await writer.write(bytes.slice(0, bytes.byteLength >> 1));
			// Waiting on a timer, not on nothing: workerd cancels a Worker that waits on nothing.
			await new Promise((resolve) => setTimeout(resolve, 60_000));
			return;
		}
		for (let i = 0; i < bytes.byteLength; i++) {
			await writer.write(bytes.slice(i, i + 1));
			await new Promise((resolve) => setTimeout(resolve, 500));
		}
		await writer.close();
	};
	// The reader going away ends the sending; that is no failure of the network.
	send().catch(() => {});
	return readable;
}
