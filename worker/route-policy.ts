import type { Access } from "../schema/package/contract";
import { type CacheName, cacheHeader } from "./cache-control";
import type { RouteRequest } from "./http";
import { isPrepared, type PreparedAnswer, preparedResponse } from "./prepared-answer";

// Every route declares, where its handler is defined, who may call it and how long its answer may
// be cached: `{ auth, cache }`. The guard (worker/guards.ts, worker/web/page.ts, or `route` here
// for routes that check no token) enforces the first and sets Cache-Control from the second; the
// declaration is kept on the handler so tests/architecture.test.ts can hold ARCHITECTURE.md's
// routing table to it.

/**
 * Who may call a route, as the routing table says it:
 * - `none`: anyone, no token is read; `capability`: anyone holding the URL (files);
 * - `password`: a name and password (or a pasted token) in the body: the route signs people in;
 * - `caller`: anyone, the token read when given (the answer depends on who asks);
 * - `signedIn`: any token holder; `admin`: the admin token or an adm_ token;
 * - `session admin`: the same, from a page's session (the admin pages' forms);
 * - `read`: whoever may read the package (anyone else gets the 404 of a missing package);
 * - `write: …`: a token with these permissions on the package (`session write: …` from a page);
 * - `viewer`: a page's viewer, from the Authorization header or the session cookie;
 * - `idToken`: a CI provider's OpenID Connect ID token as the bearer token (trusted publishing).
 */
export type Auth =
	| "none"
	| "capability"
	| "password"
	| "caller"
	| "signedIn"
	| "admin"
	| "session admin"
	| "read"
	| "viewer"
	| "idToken"
	| `write: ${string}`
	| `session write: ${string}`;

export type RoutePolicy = { auth: Auth; cache: CacheName };

export type Handler = (request: RouteRequest, env: Env, ctx: ExecutionContext) => Promise<Response>;

/** A handler's answer: the response, with what its Cache-Control depends on when that is not "public". */
export type Answer = Response | { response: Response; access?: Access; perClient?: boolean };

const declared = new WeakMap<object, RoutePolicy>();

/** Keeps a route's policy on its handler (read back by `policyOf`). */
export function declare<H extends object>(handler: H, policy: RoutePolicy): H {
	declared.set(handler, { auth: policy.auth, cache: policy.cache });
	return handler;
}

/** The policy a handler was declared with; undefined for a function that is no route. */
export function policyOf(handler: unknown): RoutePolicy | undefined {
	return typeof handler === "function" ? declared.get(handler) : undefined;
}

/** The answer with the Cache-Control its route's policy gives it (any the handler set is replaced). */
export function withCache(cache: CacheName, answer: Answer): Response {
	const { response, access, perClient } = answer instanceof Response ? { response: answer } : answer;
	const value = cacheHeader(cache, { status: response.status, access, perClient });
	if (value === null) return response;
	try {
		response.headers.set("cache-control", value);
		return response;
	} catch {
		// Headers of a response that came from elsewhere (a fetch, an RPC) are immutable.
		const copy = new Response(response.body, response);
		copy.headers.set("cache-control", value);
		return copy;
	}
}

/** A route that checks no token, or checks its own credentials (`password`, a form's `viewer`): its policy and its handler. */
export function route(
	policy: { auth: "none" | "capability" | "password" | "viewer" | "idToken"; cache: CacheName },
	handle: (
		request: RouteRequest,
		env: Env,
		ctx: ExecutionContext,
	) => Answer | PreparedAnswer | Promise<Answer | PreparedAnswer>,
): Handler {
	return declare(async (request, env, ctx) => finished(policy.cache, await handle(request, env, ctx), request), policy);
}

/** A handler's answer as the response its route's Cache-Control (and CORS, for a prepared one) makes of it. */
export function finished(cache: CacheName, answer: Answer | PreparedAnswer, request: RouteRequest): Response {
	return isPrepared(answer) ? preparedResponse(cache, answer, request) : withCache(cache, answer);
}
