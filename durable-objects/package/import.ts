import semver from "semver";
import { ok, type Result } from "../../schema/errors";
import type { ImportedMetadata, ImportMetadataInput, ImportVersionInput, Person } from "../../schema/package/contract";
import type { PackageRow } from "../../schema/package/rows";
import { refusals } from "../../schema/refusals";
import type { Channels } from "./channels";
import type { Readmes } from "./readmes";
import type { Rollouts } from "./rollouts";
import { insertVersion } from "./version-changes";
import type { Versions } from "./versions";

// Copying a package in from another registry (worker/admin/import.ts, `npm run migrate`). A
// version is stored as a publish stores it, but with the source's time, publisher and
// deprecation, and it moves no channel: `latest` and the other dist-tags are set by the metadata
// step once the versions are in, each a channel move with its history row. Both are idempotent:
// a version already here with the same integrity is `present` (nothing written), one with other
// bytes a conflict (never overwritten); metadata that changes nothing commits nothing.

/** The parts of the package object an import writes. */
export type ImportParts = {
	sql: SqlStorage;
	versions: Versions;
	channels: Channels;
	readmes: Readmes;
	rollouts: Rollouts;
};

/** A change as the object's `write` takes it (package-metadata.ts). */
type ImportChange<T> =
	| { value: T; action: string; target: string | null; detail?: Record<string, unknown>; modifiedAt?: string }
	| { value: T; skip: true };

export function importVersion(
	parts: ImportParts,
	input: ImportVersionInput,
	pkg: PackageRow,
): Result<ImportChange<{ status: "copied" | "present" }>> {
	const existing = parts.versions.get(input.version);
	if (existing) {
		if (existing.integrity === input.tarball.integrity)
			return ok({ value: { status: "present" as const }, skip: true });
		return refusals.importConflict(input.version, existing.integrity, input.tarball.integrity);
	}
	// A number unpublished here stays unpublished, as npm keeps it (DESIGN.md, invariant 1).
	if (parts.versions.wasRemoved(input.version)) return refusals.versionRemoved(input.version);
	const versionId = insertVersion(parts.versions, input, input.publishedAt, input.publishedBy);
	if (input.deprecated) parts.versions.setDeprecated(input.version, input.deprecated);
	if (input.readmeHtml !== null) parts.readmes.put(input.version, input.readmeHtml);
	// Until the metadata step brings the source's maintainers, the publisher stands for them.
	if (parts.versions.maintainers().length === 0) parts.versions.addMaintainer(input.publishedBy);
	keepEarliestCreated(parts.sql, pkg, input.publishedAt);
	return ok({
		value: { status: "copied" as const },
		action: "import",
		target: input.version,
		detail: {
			versionId,
			publishedAt: input.publishedAt,
			integrity: input.tarball.integrity,
			...(input.deprecated ? { deprecated: input.deprecated } : {}),
			...(input.manifestOverrides?.length ? { manifestFromTarball: input.manifestOverrides } : {}),
		},
	});
}

export function importMetadata(
	parts: ImportParts,
	input: ImportMetadataInput,
	pkg: PackageRow,
	now: string,
): Result<ImportChange<Omit<ImportedMetadata, "rev">>> {
	const result: Omit<ImportedMetadata, "rev"> = {
		moved: [],
		unchanged: [],
		skipped: [],
		liveHere: [],
		deprecationsChanged: [],
	};
	const tags = parts.channels.distTags();
	// `latest` first: the channel npm needs exists before any other is added.
	const ordered = Object.entries(input.distTags).sort(([a], [b]) => Number(b === "latest") - Number(a === "latest"));
	for (const [tag, version] of ordered) {
		const skip = (reason: string) => result.skipped.push({ tag, version, reason });
		if (tags[tag] === version) result.unchanged.push(tag);
		else if (!parts.versions.get(version)) skip(`version ${version} is not here`);
		else if (parts.rollouts.get(tag)) skip(`channel "${tag}" has a rollout under way`);
		else if (!parts.channels.hasRoomFor([tag])) skip("the package has no room for another channel");
		else {
			parts.channels.move(tag, version, input.actor.label, now);
			result.moved.push(tag);
		}
	}
	const recorded = recordUnpublished(parts, input.unpublished, input.actor.label, now, result.liveHere);
	for (const [version, message] of Object.entries(input.deprecated)) {
		const row = parts.versions.get(version);
		if (!row || row.deprecated === message) continue;
		parts.versions.setDeprecated(version, message);
		result.deprecationsChanged.push(version);
	}
	const latest = ensureLatest(parts, input.actor.label, now);
	const maintainersChanged = input.maintainers !== null && replaceMaintainers(parts.versions, input.maintainers);
	const createdChanged = input.created !== null && keepEarliestCreated(parts.sql, pkg, input.created);
	const modifiedAt = modifiedTime(parts.versions, input.modified);
	const changed =
		result.moved.length > 0 ||
		recorded.length > 0 ||
		result.deprecationsChanged.length > 0 ||
		latest ||
		maintainersChanged ||
		createdChanged;
	if (!changed && (modifiedAt === null || modifiedAt === pkg.modified_at)) return ok({ value: result, skip: true });
	return ok({
		value: result,
		action: "import.metadata",
		target: null,
		detail: {
			moved: result.moved,
			skipped: result.skipped,
			unpublished: recorded,
			...(result.deprecationsChanged.length > 0 ? { deprecations: result.deprecationsChanged } : {}),
			...(latest ? { latest: "set to the highest version: the source names none that is here" } : {}),
			...(maintainersChanged ? { maintainers: input.maintainers?.map((m) => m.name) } : {}),
		},
		...(modifiedAt === null ? {} : { modifiedAt }),
	});
}

/** Numbers the source unpublished become taken here; one published here is left alone and reported. */
function recordUnpublished(parts: ImportParts, versions: string[], by: string, now: string, liveHere: string[]) {
	const recorded: string[] = [];
	for (const version of versions) {
		if (parts.versions.get(version)) liveHere.push(version);
		else if (!parts.versions.isTaken(version)) {
			parts.sql.exec(
				`INSERT INTO removed_versions (version, removed_at, removed_by) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
				version,
				now,
				by,
			);
			recorded.push(version);
		}
	}
	return recorded;
}

/** npm expects `latest` while any version exists: a source without one gets the highest (as repairLatest). */
function ensureLatest(parts: ImportParts, by: string, now: string): boolean {
	if (parts.channels.get("latest")) return false;
	const versions = parts.versions.all().map((v) => v.version);
	const stable = versions.filter((v) => semver.prerelease(v) === null);
	const highest = semver.rsort(stable.length > 0 ? stable : versions)[0];
	if (!highest) return false;
	parts.channels.move("latest", highest, by, now);
	return true;
}

function replaceMaintainers(versions: Versions, people: Person[]): boolean {
	const wanted = people.map((p) => (p.email ? { name: p.name, email: p.email } : { name: p.name }));
	if (JSON.stringify(versions.maintainers()) === JSON.stringify(wanted)) return false;
	versions.replaceMaintainers(wanted);
	return true;
}

/** `created` is the earliest time the package is known to have existed, here or at the source. */
function keepEarliestCreated(sql: SqlStorage, pkg: PackageRow, at: string): boolean {
	if (at >= pkg.created_at) return false;
	sql.exec(`UPDATE package SET created_at = ?`, at);
	return true;
}

/** The source's `modified`, unless a version here is newer (ISO 8601 strings order as times). */
function modifiedTime(versions: Versions, modified: string | null): string | null {
	if (modified === null) return null;
	const times = [modified, ...versions.all().map((v) => v.published_at)].sort();
	return times.at(-1) ?? modified;
}
