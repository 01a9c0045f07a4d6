import type { Actor } from "../../durable-objects/audit";
import { actorOf, assertAdmin, authenticate } from "../auth";

/** Every /-/admin/* handler starts here: the admin token or an adm_ token, else 401/403. */
export async function requireAdmin(request: Request, env: Env): Promise<Actor> {
	const principal = await authenticate(request, env);
	assertAdmin(principal);
	return actorOf(principal);
}
