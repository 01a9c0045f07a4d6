// CORS for what browsers fetch cross-origin: the channel lookup API, version files, the loader.
// `*` is safe here: responses never depend on cookies, only on an explicit Authorization header.

export const ALLOW_ORIGIN = { "access-control-allow-origin": "*", "access-control-expose-headers": "etag" };
export const CORS_HEADERS = Object.entries(ALLOW_ORIGIN);

/** Responses made with the CORS headers in them already (prepared-answer.ts): nothing to add. */
const corsIncluded = new WeakSet<Response>();

export function markCorsIncluded(response: Response): Response {
	corsIncluded.add(response);
	return response;
}

export function isBrowserFacing(pathname: string): boolean {
	return pathname.startsWith("/packages/") || pathname.startsWith("/files/") || pathname === "/loader.js";
}

/** Adds the CORS headers to a response of a browser-facing route (errors included). */
export function withCors(response: Response): Response {
	if (corsIncluded.has(response)) return response;
	// Responses made here have mutable headers; one that came from elsewhere (immutable) is copied.
	let target = response;
	try {
		for (const [name, value] of CORS_HEADERS) target.headers.set(name, value);
	} catch {
		target = new Response(response.body, response);
		for (const [name, value] of CORS_HEADERS) target.headers.set(name, value);
	}
	return target;
}
