import { NewTrustListSchema, type TrustConfiguration } from "../../schema/trust/contract";
import { authStore } from "../auth/auth-store";
import { unwrap } from "../errors";
import { packageWrite } from "../guards";
import { decodeParam, json, readJson } from "../http";

// npm trust github|gitlab|circleci, npm trust list, npm trust revoke: a package's trusted
// publishers, for anyone who may publish it (with a second factor where publishing needs one).
// Each change is audited in the registry's log (trust.add, trust.revoke). A package may be
// configured before its first publish, so that CI can publish it first.

const policy = { auth: "write", need: ["publish"], mustExist: false, cache: "none" } as const;

/** GET /-/package/{name}/trust */
export const listTrust = packageWrite(policy, async ({ env, pkg }) =>
	json((await authStore(env).trustConfigurations(pkg.name)).map(present)),
);

/** POST /-/package/{name}/trust with `[{ type, claims, permissions }]`: answers the configurations made. */
export const addTrust = packageWrite(policy, async ({ request, env, pkg, actor }) => {
	const configs = await readJson(request, NewTrustListSchema);
	const { configurations } = unwrap(await authStore(env).addTrust(pkg.name, configs, actor));
	return json(configurations.map(present), { status: 201 });
});

/** DELETE /-/package/{name}/trust/{id} */
export const revokeTrust = packageWrite(policy, async ({ request, env, pkg, actor }) => {
	unwrap(await authStore(env).removeTrust(pkg.name, decodeParam(request.params.id), actor));
	return new Response(null, { status: 204 });
});

function present(config: TrustConfiguration) {
	return {
		id: config.id,
		type: config.type,
		claims: config.claims,
		permissions: config.permissions,
		createdAt: config.createdAt,
		createdBy: config.createdBy,
	};
}
