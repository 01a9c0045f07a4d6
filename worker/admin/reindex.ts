import { json, type RouteRequest } from "../http";
import { searchIndex } from "../objects";
import { requireAdmin } from "./guard";

// /-/admin/reindex: rebuild the search index from the package objects. The rebuild runs inside
// the index object in batches (its alarm); search keeps answering from the old rows meanwhile.

/** POST /-/admin/reindex → 202 with the rebuild's status */
export async function startReindex(request: RouteRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	return json(await searchIndex(env).startReindex(), { status: 202 });
}

/** GET /-/admin/reindex → the status of the last rebuild */
export async function reindexStatus(request: RouteRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	return json(await searchIndex(env).reindexStatus());
}
