import type { Result } from "../schema/errors";
import { type PackageName, parseChannelName, parsePackageName, parseVersion } from "../schema/names";
import { unwrap } from "./errors";
import { decodeParam } from "./http";

// Path parameters as the registry's names, parsed by schema/names.ts; an invalid one is a 400.
// Hot reads name the same few packages, versions and channels over and over, so each parse is
// remembered by its raw text (#25: the name checks were a tenth of a cached read's work).

/** Raw texts longer than this are parsed every time: no name is, and junk must not fill memory. */
const MAX_REMEMBERED_LENGTH = 256;
const MAX_REMEMBERED = 4_096;

/** A parser whose results (immutable values, or refusals) are kept by input, a few thousand at most. */
function remembered<T>(parse: (raw: string) => Result<T>): (raw: string) => T {
	const results = new Map<string, Result<T>>();
	return (raw) => {
		let result = results.get(raw);
		if (result === undefined) {
			result = parse(raw);
			if (result.ok && typeof result.value === "object" && result.value !== null) Object.freeze(result.value);
			if (raw.length <= MAX_REMEMBERED_LENGTH) {
				if (results.size >= MAX_REMEMBERED) results.clear();
				results.set(raw, result);
			}
		}
		return unwrap(result);
	};
}

/** Joins the route parameters of `/@:scope/:pkg` or `/:pkg` into one validated name. */
export function packageNameFromParams(params: Record<string, string | undefined>): PackageName {
	const { scope, pkg } = params;
	return packageName(scope === undefined ? (pkg ?? "") : `@${scope}/${pkg ?? ""}`);
}

/** A package name as a query string or body gives it (the value is shared: callers only read it). */
export const packageName: (raw: string) => PackageName = remembered(parsePackageName);

export const channelName: (raw: string) => string = remembered(parseChannelName);

export function channelParam(params: Record<string, string | undefined>, key = "channel"): string {
	return channelName(decodeParam(params[key]));
}

export const versionNumber: (raw: string) => string = remembered(parseVersion);
