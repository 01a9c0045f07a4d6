import type { PackageName } from "./lib/package-name";

// The Worker's way to the Durable Objects: one PackageMetadataDO per package name, the one
// AuthStoreDO for users, tokens and grants, and the one RegistryIndexDO for search.

export function packageObject(env: Env, pkg: PackageName) {
	return env.PACKAGES.get(env.PACKAGES.idFromName(pkg.name));
}

export function authStore(env: Env) {
	return env.AUTH.get(env.AUTH.idFromName("auth"));
}

export function searchIndex(env: Env) {
	return env.INDEX.get(env.INDEX.idFromName("index"));
}
