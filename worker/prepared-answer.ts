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

/**
 * Values made once per kept entry (an object the read tier shares between hits: a parsed
 * location, a channel's state, a handler's header set) and key, forgotten with the entry.
 */
export class PerEntry<K, V> {
	private readonly made = new WeakMap<object, Map<K, V>>();

	get(entry: object, key: K): V | undefined {
		return this.made.get(entry)?.get(key);
	}

	set(entry: object, key: K, value: V): V {
		let byKey = this.made.get(entry);
		if (!byKey) {
			byKey = new Map();
			this.made.set(entry, byKey);
		}
		byKey.set(key, value);
		return value;
	}
}

/** The handler's sets with their Cache-Control (by its value) added, without and with CORS. */
const finished = { plain: new PerEntry<string | null, Headers>(), cors: new PerEntry<string | null, Headers>() };

export function preparedResponse(cache: CacheName, answer: PreparedAnswer, request: RouteRequest): Response {
	const status = answer.status ?? 200;
	const cacheControl = cacheHeader(cache, { status, access: answer.access, perClient: answer.perClient });
	const cors = isBrowserFacing(urlOf(request).pathname);
	const made = cors ? finished.cors : finished.plain;
	const headers = made.get(answer.headers, cacheControl) ?? made.set(answer.headers, cacheControl, complete());
	const response = new Response(answer.body, { status, headers });
	return cors ? markCorsIncluded(response) : response;

	function complete(): Headers {
		const headers = new Headers(answer.headers);
		if (cacheControl !== null) headers.set("cache-control", cacheControl);
		if (cors) for (const [name, value] of CORS_HEADERS) headers.set(name, value);
		return headers;
	}
}
