import { authStoreObject, packageObject, searchIndex, tokenObject } from "../durable-objects/stubs";
import { recordObjectMethod } from "./metrics/trace";
import { type ObjectKind, recordObjectCall } from "./read-tier/metrics";

// The Worker's way to the objects: the stubs of durable-objects/stubs.ts, each call counted by the
// kind of object it reaches, so the metrics can say how many reads the read tier kept from them.

function counted<S extends object>(kind: ObjectKind, stub: S): S {
	return new Proxy(stub, {
		get(target, property) {
			const method: unknown = Reflect.get(target, property);
			if (typeof method !== "function") return method;
			return (...args: unknown[]) => {
				recordObjectCall(kind);
				recordObjectMethod(kind, String(property));
				// Reflect.apply: an RPC method stub would take `.apply` for the name of a remote method.
				return Reflect.apply(method, target, args);
			};
		},
	});
}

export const packageStub = (env: Env, name: string) => counted("package", packageObject(env, name));
export const tokenStub = (env: Env, hash: string) => counted("token", tokenObject(env, hash));
export const authStoreStub = (env: Env) => counted("auth", authStoreObject(env));
export const searchIndexStub = (env: Env) => counted("index", searchIndex(env));

/** A package's revision now (null when it does not exist), to confirm a cached answer still holds. */
export function packageRevision(env: Env, name: string): Promise<string | null> {
	return packageStub(env, name).revision(name);
}
