import type { Actor } from "../../schema/audit";
import type { ScopePolicy } from "../../schema/auth/contract";
import {
	CreateCustomerSchema,
	RetentionDefaultSchema,
	ScopePolicySchema,
	UpdateCustomerSchema,
} from "../../schema/requests/admin";
import { authStore } from "../auth/auth-store";
import { forgetScopePolicy } from "../auth/two-factor";
import { unwrap } from "../errors";
import { admin } from "../guards";
import { decodeParam, json, readJson, readJsonBody, validate } from "../http";
import { refused } from "../refusals";

// /-/admin/customers (named holders of blk_ keys; `active: false` suspends every key at once),
// /-/admin/scopes (per-scope policy: requireTwoFactor, prereleaseRetentionDays) and
// /-/admin/retention (the registry's default retention of pre-release versions).

/** POST /-/admin/customers { name } */
export const createCustomer = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const { name } = await readJson(request, CreateCustomerSchema);
	return json(unwrap(await authStore(env).createCustomer(name, actor)).customer, { status: 201 });
});

/** GET /-/admin/customers */
export const listCustomers = admin({ auth: "admin", cache: "none" }, async ({ env }) =>
	json({ customers: await authStore(env).listCustomers() }),
);

/** PATCH /-/admin/customers/{name} { active } */
export const updateCustomer = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const { active } = await readJson(request, UpdateCustomerSchema);
	const name = decodeParam(request.params.name);
	return json(unwrap(await authStore(env).setCustomerActive(name, active, actor)).customer);
});

/** PUT /-/admin/scopes/{scope} { requireTwoFactor?, prereleaseRetentionDays? } */
export const setScopePolicy = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) =>
	json(await changeScopePolicy(env, decodeParam(request.params.scope), await readJsonBody(request), actor)),
);

/** A scope's policy changed as the caller asked (validated here): the API's and the admin pages' one way. */
export async function changeScopePolicy(env: Env, scope: string, input: unknown, actor: Actor): Promise<ScopePolicy> {
	if (!/^@[a-z0-9][a-z0-9._~-]*$/.test(scope)) throw refused.badScope();
	const change = validate(ScopePolicySchema, input);
	const { changedTokens: _, ...policy } = unwrap(await authStore(env).setScopePolicy(scope, change, actor));
	forgetScopePolicy(scope);
	return policy;
}

/** PUT /-/admin/retention { prereleaseRetentionDays }: the registry's default (null: off). */
export const setRetentionDefault = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const { prereleaseRetentionDays } = await readJson(request, RetentionDefaultSchema);
	unwrap(await authStore(env).setDefaultRetention(prereleaseRetentionDays, actor));
	return json(await authStore(env).retentionSettings());
});

/** GET /-/admin/retention: the default and every scope with a retention of its own. */
export const getRetention = admin({ auth: "admin", cache: "none" }, async ({ env }) =>
	json(await authStore(env).retentionSettings()),
);

/** GET /-/admin/scopes/{scope} */
export const getScopePolicy = admin({ auth: "admin", cache: "none" }, async ({ request, env }) =>
	json(await authStore(env).scopePolicy(decodeParam(request.params.scope))),
);
