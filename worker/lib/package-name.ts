import validate from "validate-npm-package-name";
import { HttpError } from "../errors";

/** A package name the registry accepts, split the ways the protocol needs it. */
export type PackageName = {
	/** `@scope/name` or `name`, exactly as npm spells it. */
	readonly name: string;
	/** `@scope` or null for unscoped packages. */
	readonly scope: string | null;
	/** The part after the scope: the tarball file name starts with it (`name-1.0.0.tgz`). */
	readonly basename: string;
};

/**
 * Scoped names arrive as `@scope/name`, `@scope%2fname` (npm) or `@scope%2Fname` (pnpm, yarn).
 * Rewriting the encoded slash before routing lets one route table serve all three spellings.
 */
export function normalizeScopedPath(pathname: string): string {
	return pathname.replace(/(^|\/)(@[^/%]+)%2f/gi, "$1$2/");
}

/** First path segments the registry routes itself: no package may take these names. */
const RESERVED = new Set(["files", "packages", "loader.js"]);

/** Validates a name with npm's own rules (validate-npm-package-name): new packages need the strict set. */
export function parsePackageName(raw: string): PackageName {
	let name: string;
	try {
		name = decodeURIComponent(raw);
	} catch {
		throw new HttpError("invalidName", "invalid package name: malformed percent-encoding");
	}
	const result = validate(name);
	if (!result.validForNewPackages) {
		const reasons = [...(result.errors ?? []), ...(result.warnings ?? [])];
		throw new HttpError("invalidName", `invalid package name "${name}": ${reasons.join("; ")}`);
	}
	if (RESERVED.has(name))
		throw new HttpError("invalidName", `invalid package name "${name}": reserved by this registry`);
	const slash = name.indexOf("/");
	return slash === -1
		? { name, scope: null, basename: name }
		: { name, scope: name.slice(0, slash), basename: name.slice(slash + 1) };
}

/** Joins the route parameters of `/@:scope/:pkg` or `/:pkg` into one validated name. */
export function packageNameFromParams(params: Record<string, string | undefined>): PackageName {
	const { scope, pkg } = params;
	if (pkg === undefined) throw new HttpError("invalidName", "missing package name");
	return parsePackageName(scope === undefined ? pkg : `@${scope}/${pkg}`);
}
