import { type PackageName, parseChannelName, parsePackageName, parseVersion } from "../schema/names";
import { unwrap } from "./errors";
import { decodeParam } from "./http";

// Path parameters as the registry's names, parsed by schema/names.ts; an invalid one is a 400.

/** Joins the route parameters of `/@:scope/:pkg` or `/:pkg` into one validated name. */
export function packageNameFromParams(params: Record<string, string | undefined>): PackageName {
	const { scope, pkg } = params;
	return packageName(scope === undefined ? (pkg ?? "") : `@${scope}/${pkg ?? ""}`);
}

/** A package name as a query string or body gives it. */
export function packageName(raw: string): PackageName {
	return unwrap(parsePackageName(raw));
}

export function channelName(raw: string): string {
	return unwrap(parseChannelName(raw));
}

export function channelParam(params: Record<string, string | undefined>, key = "channel"): string {
	return channelName(decodeParam(params[key]));
}

export function versionNumber(raw: string): string {
	return unwrap(parseVersion(raw));
}
