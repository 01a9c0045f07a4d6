import semver from "semver";
import { HttpError } from "../errors";

/**
 * A channel (npm dist-tag) name: URL-safe, at most 64 characters, and not a version number, so that
 * `/{name}/{version-or-tag}` is never ambiguous. Ranges such as `v2` are allowed: they are channels
 * for web-component loaders even though npm itself would read `pkg@v2` as a range.
 */
export function parseChannelName(name: string): string {
	if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name) || semver.valid(name) !== null) {
		throw new HttpError(
			"badRequest",
			`invalid tag name "${name}": use up to 64 letters, digits, '.', '_' or '-', and not a version number`,
		);
	}
	return name;
}

/** A version number as the registry stores it: strict semver, already in its canonical form. */
export function parseVersion(version: string): string {
	if (semver.valid(version) !== version) {
		throw new HttpError("invalidVersion", `invalid version "${version}": not a semver version`);
	}
	return version;
}
