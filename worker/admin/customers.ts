import { CreateCustomerSchema, ScopePolicySchema, UpdateCustomerSchema } from "../../schema/admin";
import { forgetToken } from "../auth";
import { badRequest, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest, readJson } from "../http";
import { authStore } from "../objects";
import { forgetScopePolicy } from "../two-factor";
import { requireAdmin } from "./guard";

// /-/admin/customers (named holders of blk_ keys; `active: false` suspends every key at once) and
// /-/admin/scopes (per-scope policy: requireTwoFactor).

/** POST /-/admin/customers { name } */
export async function createCustomer(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const { name } = await readJson(request, CreateCustomerSchema);
	return json(unwrap(await authStore(env).createCustomer(name, actor)).customer, { status: 201 });
}

/** GET /-/admin/customers */
export async function listCustomers(request: RouteRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	return json({ customers: await authStore(env).listCustomers() });
}

/** PATCH /-/admin/customers/{name} { active } */
export async function updateCustomer(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const { active } = await readJson(request, UpdateCustomerSchema);
	const name = decodeParam(request.params.name);
	const { customer, hashes } = unwrap(await authStore(env).setCustomerActive(name, active, actor));
	hashes.forEach(forgetToken);
	return json(customer);
}

/** PUT /-/admin/scopes/{scope} { requireTwoFactor } */
export async function setScopePolicy(request: RouteRequest, env: Env): Promise<Response> {
	const actor = await requireAdmin(request, env);
	const scope = decodeParam(request.params.scope);
	if (!/^@[a-z0-9][a-z0-9._~-]*$/.test(scope)) throw badRequest("scope must look like @scope");
	const { requireTwoFactor } = await readJson(request, ScopePolicySchema);
	const policy = await authStore(env).setScopePolicy(scope, requireTwoFactor, actor);
	forgetScopePolicy(scope);
	return json(policy);
}

/** GET /-/admin/scopes/{scope} */
export async function getScopePolicy(request: RouteRequest, env: Env): Promise<Response> {
	await requireAdmin(request, env);
	const scope = decodeParam(request.params.scope);
	return json({ scope, ...(await authStore(env).scopePolicy(scope)) });
}
