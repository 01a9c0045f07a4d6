import { authStoreStub } from "../objects";
import { forgetToken } from "./token-cache";

// The Worker's one client of the AuthStoreDO. Every change the store makes answers the hashes of
// the tokens whose records it changed (`changedTokens`); this client drops those tokens from this
// isolate's token cache before the caller sees the answer, so a change applies here at once (and
// in every other isolate within the token cache's lifetime). No call site has to remember it.

type AuthStoreStub = ReturnType<typeof authStoreStub>;

export function authStore(env: Env): AuthStoreStub {
	const stub = authStoreStub(env);
	return new Proxy(stub, {
		get(target, property) {
			const method: unknown = Reflect.get(target, property);
			if (typeof method !== "function") return method;
			return async (...args: unknown[]) => {
				// Reflect.apply: an RPC method stub would take `.apply` for the name of a remote method.
				const result: unknown = await Reflect.apply(method, target, args);
				forgetChangedTokens(result);
				return result;
			};
		},
	});
}

function forgetChangedTokens(result: unknown): void {
	if (typeof result !== "object" || result === null || !("ok" in result) || result.ok !== true) return;
	const value: unknown = "value" in result ? result.value : null;
	if (typeof value !== "object" || value === null || !("changedTokens" in value)) return;
	if (Array.isArray(value.changedTokens)) for (const hash of value.changedTokens) forgetToken(String(hash));
}
