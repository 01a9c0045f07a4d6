import type { PackageName } from "./lib/package-name";

// The Worker's way to the Durable Objects: one PackageMetadataDO per package name, and the one
// AuthStoreDO for users, tokens and grants.

export function packageObject(env: Env, pkg: PackageName) {
	return env.PACKAGES.get(env.PACKAGES.idFromName(pkg.name));
}

export function authStore(env: Env) {
	return env.AUTH.get(env.AUTH.idFromName("auth"));
}
