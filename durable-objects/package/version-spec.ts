import semver from "semver";
import { ok, type Refusal, type Result } from "../../schema/errors";
import { LIMITS } from "../../schema/limits";
import { refusals } from "../../schema/refusals";

// How GET /{name}/{spec} names a version, for this registry's packages and upstream copies alike:
// an exact version number, then a tag, then the highest version a range allows (as the npm
// registry resolves them). A range is matched against every version, so its size is bounded here.

/** The versions a spec is resolved against. */
export type VersionSet = {
	/** Whether this exact version exists. */
	has(version: string): boolean;
	/** The version a tag points at, if the tag exists. */
	tagged(tag: string): string | null;
	/** Every version number, for ranges. */
	numbers(): string[];
};

/** The refusal for a spec too large to match against every version, or null if it may be. */
export function versionSpecTooComplex(spec: string): Refusal | null {
	return spec.length > LIMITS.rangeLength || spec.split("||").length > LIMITS.rangeAlternatives
		? refusals.rangeTooComplex()
		: null;
}

/** The version a spec names: its number, a tag's version, or a range's highest match. */
export function resolveVersionSpec(spec: string, set: VersionSet): Result<string> {
	const tooComplex = versionSpecTooComplex(spec);
	if (tooComplex) return tooComplex;
	if (set.has(spec)) return ok(spec);
	const tagged = set.tagged(spec);
	const version =
		tagged !== null ? tagged : semver.validRange(spec) === null ? null : semver.maxSatisfying(set.numbers(), spec);
	return version !== null && set.has(version) ? ok(version) : refusals.versionNotFound(spec);
}
