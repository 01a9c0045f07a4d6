import semver from "semver";
import type { ChannelState, Channels } from "./channels";

// npm installs `latest`: a package that was only ever uploaded (POST …/upload moves no channel a
// publisher chose) would otherwise have none, and `npm install name` fails. So an upload lets
// `latest` follow the highest release version (the highest version while there is no release),
// until a publisher moves `latest` themselves (npm publish, dist-tag, the channel API, a rollback):
// from then on uploads leave it where it was put. Runs inside the upload's transaction.

/** The history event of a move an upload made on its own; any other event on `latest` is a publisher's. */
export const FOLLOWED = "upload" as const;

/** Moves `latest` to the highest version if uploads still own it; the new state, or null if it stayed. */
export function followLatest(channels: Channels, versions: string[], by: string, at: string): ChannelState | null {
	const current = channels.get("latest");
	if (current && channels.lastEvent("latest") !== FOLLOWED) return null;
	const target = highestVersion(versions);
	if (target === null || target === current?.version) return null;
	if (!channels.hasRoomFor(["latest"])) return null;
	return channels.move("latest", target, by, at, FOLLOWED);
}

/** The highest release version, or the highest version while there is no release (as npm picks `latest`). */
export function highestVersion(versions: string[]): string | null {
	const releases = versions.filter((v) => semver.prerelease(v) === null);
	return semver.rsort(releases.length > 0 ? releases : [...versions])[0] ?? null;
}
