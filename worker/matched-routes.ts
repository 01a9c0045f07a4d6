import type { RouterType } from "itty-router";
import type { RouteRequest } from "./http";
import { PerEntry } from "./prepared-answer";
import { policyOf } from "./route-policy";

// The routes reads matched before, by path (#25). Which route a request takes, and its
// parameters, depend on nothing but its method and path, and installs and loaders ask for the
// same few paths over and over: a repeat GET is dispatched straight to the route it matched last
// time, as itty-router would dispatch it (the table's `before`, the handler, its `catch` and
// `finally`), without the router's second parse of the URL, its query parsing and its scan of the
// table's patterns. A request with a query string is routed as usual (handlers read the query),
// and so is the first request for a path.

type Table = RouterType<RouteRequest, [Env, ExecutionContext], Response>;
type Handler = (request: RouteRequest, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;
/** A path's route: the table it is in follows from the path (its first segment, router.ts). */
type Matched = { handler: Handler; params: Readonly<Record<string, string | undefined>>; route: string };

/** Paths longer than this (a name near npm's 214-character limit) are routed every time: junk must not fill memory. */
const MAX_REMEMBERED_PATH = 256;
const MAX_REMEMBERED = 4_096;

const matched = new Map<string, Matched>();

/** The table's answer to a read, through the route it matched before for this path where it did. */
export async function routeRead(
	table: Table,
	request: RouteRequest,
	env: Env,
	ctx: ExecutionContext,
): Promise<Response> {
	const url = request.parsed as URL;
	if (url.search !== "" || request.method !== "GET") return table.fetch(request, env, ctx);
	const key = url.pathname;
	const known = matched.get(key);
	if (known) {
		repeats += 1;
		return dispatch(table, known, request, env, ctx);
	}
	const response = await table.fetch(request, env, ctx);
	remember(table, key, request);
	return response;
}

/** As itty-router runs a route it matched: `before` until one answers, the handler, `catch`, `finally`. */
async function dispatch(
	table: Table,
	route: Matched,
	request: RouteRequest,
	env: Env,
	ctx: ExecutionContext,
): Promise<Response> {
	Object.assign(request, { params: route.params, query: { __proto__: null }, route: route.route });
	let response: Response | undefined;
	try {
		for (const before of table.before ?? []) {
			response = (await before(request, env, ctx)) ?? undefined;
			if (response !== undefined) break;
		}
		response ??= await route.handler(request, env, ctx);
	} catch (error) {
		if (!table.catch) throw error;
		response = await table.catch(error as never, request, env, ctx);
	}
	try {
		for (const after of table.finally ?? []) response = (await after(response, request, env, ctx)) ?? response;
	} catch (error) {
		if (!table.catch) throw error;
		response = await table.catch(error as never, request, env, ctx);
	}
	return response as Response;
}

/**
 * Handlers by route, found once in the table's list: GET routes whose one handler is declared with
 * its policy (route-policy.ts), a guard that always answers, where an itty handler answering
 * nothing would fall through to the next route. The unknown-endpoint fallback, `all("*")`,
 * matches any path and is never remembered.
 */
const handlers = new PerEntry<string, Handler | null>();

function remember(table: Table, key: string, request: RouteRequest): void {
	const route = (request as { route?: string }).route;
	if (route === undefined || key.length > MAX_REMEMBERED_PATH) return;
	const known = handlers.get(table, route);
	const handler = known === undefined ? handlers.set(table, route, handlerOf(table, route)) : known;
	if (handler === null) return;
	if (matched.size >= MAX_REMEMBERED) matched.clear();
	matched.set(key, { handler, params: Object.freeze({ ...request.params }), route });
}

function handlerOf(table: Table, route: string): Handler | null {
	const entry = table.routes.find(([method, , , path]) => method === "GET" && path === route);
	const handler = entry?.[2].length === 1 ? entry[2][0] : undefined;
	return handler !== undefined && policyOf(handler) !== undefined ? (handler as Handler) : null;
}

let repeats = 0;

/** For tests: how many paths are remembered, and how many reads were dispatched through one. */
export function matchedRoutesState(): { remembered: number; repeats: number } {
	return { remembered: matched.size, repeats };
}
