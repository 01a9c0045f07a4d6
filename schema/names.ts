import semver from "semver";
import validate from "validate-npm-package-name";
import { ok, type Result, refuse } from "./errors";

// The names the registry accepts: packages (npm's own rules), versions (strict semver) and
// channels (npm dist-tags). Each parser answers a Result: the value, or the refusal naming why.

/** A package name the registry accepts, split the ways the protocol needs it. */
export type PackageName = {
	/** `@scope/name` or `name`, exactly as npm spells it. */
	readonly name: string;
	/** `@scope` or null for unscoped packages. */
	readonly scope: string | null;
	/** The part after the scope: the tarball file name starts with it (`name-1.0.0.tgz`). */
	readonly basename: string;
};

/** First path segments the registry routes itself (or will): no package may take these names. */
const RESERVED = new Set([
	"files",
	"packages",
	"package",
	"search",
	"loader.js",
	"health",
	"favicon.ico",
	"robots.txt",
]);

/** A name as the path spells it (percent-encoded or not), checked with validate-npm-package-name. */
export function parsePackageName(raw: string): Result<PackageName> {
	let name: string;
	try {
		name = decodeURIComponent(raw);
	} catch {
		return refuse("invalidName", "invalid package name: malformed percent-encoding");
	}
	const result = validate(name);
	if (!result.validForNewPackages) {
		const reasons = [...(result.errors ?? []), ...(result.warnings ?? [])];
		return refuse("invalidName", `invalid package name "${name}": ${reasons.join("; ")}`);
	}
	if (RESERVED.has(name)) return refuse("invalidName", `invalid package name "${name}": reserved by this registry`);
	return ok(splitName(name));
}

/** Splits a name that is already known to be valid (one a package object was created for). */
export function splitName(name: string): PackageName {
	const slash = name.indexOf("/");
	return slash === -1
		? { name, scope: null, basename: name }
		: { name, scope: name.slice(0, slash), basename: name.slice(slash + 1) };
}

/**
 * Scoped names arrive as `@scope/name`, `@scope%2fname` (npm) or `@scope%2Fname` (pnpm, yarn).
 * Rewriting the encoded slash before routing lets one route table serve all three spellings.
 */
export function normalizeScopedPath(pathname: string): string {
	return pathname.replace(/(^|\/)(@[^/%]+)%2f/gi, "$1$2/");
}

/** A version number as the registry stores it: strict semver, already in its canonical form. */
export function parseVersion(version: string): Result<string> {
	if (semver.valid(version) !== version) {
		return refuse("invalidVersion", `invalid version "${version}": not a semver version`);
	}
	return ok(version);
}

/**
 * A channel (npm dist-tag) name: URL-safe, at most 64 characters, and not a version number, so that
 * `/{name}/{version-or-tag}` is never ambiguous. Ranges such as `v2` are allowed: they are channels
 * for web-component loaders even though npm itself would read `pkg@v2` as a range.
 */
export function parseChannelName(name: string): Result<string> {
	if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) || semver.valid(name) !== null) {
		return refuse(
			"badRequest",
			`invalid tag name "${name}": use up to 64 letters, digits, '.', '_' or '-', and not a version number`,
		);
	}
	return ok(name);
}
