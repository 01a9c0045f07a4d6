// The one way to reach each Durable Object, for the Worker and for objects that call each other:
// one PackageMetadataDO per package name, one TokenDO per token (by its SHA-256), the one
// AuthStoreDO for users, tokens and grants, the one RegistryIndexDO for search.

export function packageObject(env: Env, name: string) {
	return env.PACKAGES.get(env.PACKAGES.idFromName(name));
}

export function authStoreObject(env: Env) {
	return env.AUTH.get(env.AUTH.idFromName("auth"));
}

export function searchIndex(env: Env) {
	return env.INDEX.get(env.INDEX.idFromName("index"));
}

export function tokenObject(env: Env, hash: string) {
	return env.TOKENS.get(env.TOKENS.idFromName(hash));
}

export function backupObject(env: Env) {
	return env.BACKUPS.get(env.BACKUPS.idFromName("backups"));
}

/** The one HooksDO: package hook definitions and their delivery status. */
export function hooksObject(env: Env) {
	return env.HOOKS.get(env.HOOKS.idFromName("hooks"));
}

/** The one MetricsDO: the registry-wide figures every isolate sends, and the alerts drawn from them. */
export function metricsObject(env: Env) {
	return env.METRICS.get(env.METRICS.idFromName("metrics"));
}
