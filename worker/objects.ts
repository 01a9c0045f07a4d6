import type { PackageName } from "./lib/package-name";

// The way to the Durable Objects: one PackageMetadataDO per package name, one TokenDO per token
// (by its SHA-256), the one AuthStoreDO for users, tokens and grants, the one RegistryIndexDO.

export function packageObject(env: Env, pkg: PackageName) {
	return env.PACKAGES.get(env.PACKAGES.idFromName(pkg.name));
}

export function authStore(env: Env) {
	return env.AUTH.get(env.AUTH.idFromName("auth"));
}

export function searchIndex(env: Env) {
	return env.INDEX.get(env.INDEX.idFromName("index"));
}

export function tokenObject(env: Env, hash: string) {
	return env.TOKENS.get(env.TOKENS.idFromName(hash));
}
