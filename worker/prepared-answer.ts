import type { Access } from "../schema/package/contract";
import { type CacheName, cacheHeader } from "./cache-control";
import { CORS_HEADERS, isBrowserFacing, markCorsIncluded } from "./cors";
import { type RouteRequest, urlOf } from "./http";

// A hot read's answer as a body and a header set its handler makes once and reuses (a tarball's
// location, a channel's state): the guard adds the route's Cache-Control, and on a browser-facing
// route the CORS headers, to a copy of the set once per set and value, so a hit sets no header
// per request (#25: header lists made once per entry, not per answer).

export type PreparedAnswer = {
	body: BodyInit | null;
	/** Made once by the handler and reused for every answer: never changed once handed over. */
	headers: Headers;
	status?: number;
	access?: Access;
	perClient?: boolean;
};

export function isPrepared<A extends object>(answer: A | PreparedAnswer): answer is PreparedAnswer {
	return !(answer instanceof Response) && "headers" in answer;
}

/** The handler's sets with their Cache-Control (by its value) added, without and with CORS. */
type Finished = WeakMap<Headers, Map<string | null, Headers>>;
const finished: { plain: Finished; cors: Finished } = { plain: new WeakMap(), cors: new WeakMap() };

export function preparedResponse(cache: CacheName, answer: PreparedAnswer, request: RouteRequest): Response {
	const status = answer.status ?? 200;
	const cacheControl = cacheHeader(cache, { status, access: answer.access, perClient: answer.perClient });
	const cors = isBrowserFacing(urlOf(request).pathname);
	const made = cors ? finished.cors : finished.plain;
	let byValue = made.get(answer.headers);
	if (!byValue) {
		byValue = new Map();
		made.set(answer.headers, byValue);
	}
	let headers = byValue.get(cacheControl);
	if (!headers) {
		headers = new Headers(answer.headers);
		if (cacheControl !== null) headers.set("cache-control", cacheControl);
		if (cors) for (const [name, value] of CORS_HEADERS) headers.set(name, value);
		byValue.set(cacheControl, headers);
	}
	const response = new Response(answer.body, { status, headers });
	return cors ? markCorsIncluded(response) : response;
}
