import semver from "semver";
import type { Actor } from "../../schema/audit";
import { ok, type Refusal, type Result } from "../../schema/errors";
import type { PackageUpdate, Person, PublishInput, VersionRef } from "../../schema/package/contract";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import { refusals } from "../../schema/refusals";
import type { Provenance } from "../../schema/trust/contract";
import { followLatest } from "./latest-follows";
import { revision } from "./package-record";
import type { Change, PackageRows, Skip } from "./package-rows";
import type { Versions } from "./versions";
import { person, refName } from "./views";

// The changes to a package's versions (publish, deprecate, unpublish, delete) and the rules they
// keep: a version number is taken once, channel history protects its versions, `latest` exists
// while any version does. Each runs inside the object's write transaction (package-metadata.ts),
// which commits it or, on a refusal, rolls it back.

export function publish(
	rows: PackageRows,
	pkg: PackageRow,
	now: string,
	input: PublishInput,
): Result<Change<{ versionId: string; packageId: string; channelsMoved: string[] }>> {
	if (rows.versions.isTaken(input.version)) return refusals.versionExists(input.version);
	if (!rows.channels.hasRoomFor(input.tags)) return refusals.tooManyChannels();
	const versionId = insertVersion(rows.versions, input, now, person(input.actor));
	if (input.readmeHtml !== null) rows.readmes.put(input.version, input.readmeHtml);
	// A CI publishing as a trusted publisher is no maintainer of the package.
	if (!input.actor.trustedPublisher) rows.versions.addMaintainer(person(input.actor));
	for (const tag of input.tags) rows.channels.move(tag, input.version, input.actor.label, now);
	// An upload names no channel; `latest` follows it until a publisher moves it (latest-follows.ts).
	const followed =
		input.tags.length === 0 ? followLatest(rows.channels, rows.versions.numbers(), input.actor.label, now) : null;
	const channelsMoved = followed ? [followed.channel] : input.tags;
	return ok({
		value: { versionId, packageId: pkg.package_id, channelsMoved },
		action: input.tags.length > 0 ? "publish" : "upload",
		target: input.version,
		detail: {
			versionId,
			tags: channelsMoved,
			integrity: input.tarball.integrity,
			...(input.manifestOverrides?.length ? { manifestFromTarball: input.manifestOverrides } : {}),
			...(input.actor.trustedPublisher ? { trustedPublisher: auditedProvenance(input.actor.trustedPublisher) } : {}),
		},
	});
}

/** Where a trusted publisher's publish came from, as its audit row names it. */
function auditedProvenance(from: Provenance) {
	const { provider, repository, workflow, ref, commit, run, environment } = from;
	return { provider, repository, workflow, ref, commit, run, environment };
}

/**
 * What npm does with a document and no attachments: `npm deprecate` sets or clears (with "")
 * `deprecated`; `npm unpublish pkg@v` sends the document without that version. Nothing else in
 * the document is taken: tags are repaired here, descriptions come from the tarballs.
 */
export function update(
	rows: PackageRows,
	pkg: PackageRow,
	now: string,
	input: PackageUpdate,
): Result<Change<{ removedKeys: string[] }>> {
	const stored = rows.versions.all().map((row) => row.version);
	const unknown = Object.keys(input.versions).find((v) => !stored.includes(v));
	if (unknown !== undefined) {
		return rows.versions.wasRemoved(unknown)
			? refusals.versionRemoved(unknown)
			: refusals.versionWithoutTarball(unknown);
	}
	const missing = input.removeMissing ? stored.filter((v) => !(v in input.versions)) : [];
	if (missing.length > 0 && input.rev !== revision(pkg)) return refusals.staleRevision(input.rev);
	if (missing.length === stored.length && stored.length > 0) return refusals.removesEveryVersion();
	const deprecations: Record<string, string | null> = {};
	for (const [version, { deprecated }] of Object.entries(input.versions)) {
		const current = rows.versions.get(version)?.deprecated ?? null;
		const next = deprecated === undefined ? current : deprecated === "" ? null : deprecated;
		if (next === current) continue;
		rows.versions.setDeprecated(version, next);
		deprecations[version] = next;
	}
	const removed = removeVersions(rows, missing, input.force, input.actor, now);
	if (!removed.ok) return removed;
	return ok({
		value: { removedKeys: removed.value },
		action: missing.length > 0 ? "unpublish" : "deprecate",
		target: missing.length > 0 ? missing.join(",") : Object.keys(deprecations).join(",") || null,
		detail: missing.length > 0 ? { versions: missing, force: input.force } : { deprecations },
	});
}

/**
 * `npm unpublish pkg --force`: every version goes; their numbers stay taken. Refused while a
 * channel other than `latest` exists (pages may be loading it), unless forced.
 */
export function unpublishPackage(
	rows: PackageRows,
	pkg: PackageRow,
	now: string,
	rev: string,
	force: boolean,
	actor: Actor,
): Result<Change<{ removedKeys: string[] }>> {
	if (rev !== revision(pkg)) return refusals.staleRevision(rev);
	const inUse = rows.channels.loaderChannels();
	if (inUse.length > 0 && !force) return refusals.channelsInUse(inUse);
	const versions = rows.versions.all().map((row) => row.version);
	const keys = versions.flatMap((version) => rows.versions.remove(version, actor.label, now));
	for (const version of versions) rows.readmes.remove(version);
	for (const channel of rows.channels.list()) rows.channels.remove(channel.channel);
	rows.record.markUnpublished(now);
	return ok({ value: { removedKeys: keys }, action: "unpublish", target: "*", detail: { versions, force } });
}

/** The tarball DELETE npm sends after removing a version: removes it if it is still there. */
export function removeTarball(
	rows: PackageRows,
	pkg: PackageRow,
	now: string,
	version: string,
	rev: string,
	force: boolean,
	actor: Actor,
): Result<Change<{ removedKeys: string[] }> | Skip<{ removedKeys: string[] }>> {
	if (rows.versions.wasRemoved(version)) return ok({ value: { removedKeys: [] }, skip: true });
	if (!rows.versions.get(version)) return refusals.versionNotFound(version);
	if (rev !== revision(pkg)) return refusals.staleRevision(rev);
	const removed = removeVersions(rows, [version], force, actor, now);
	if (!removed.ok) return removed;
	return ok({ value: { removedKeys: removed.value }, action: "unpublish", target: version, detail: { force } });
}

/** Deletes one version through the channels API; protected versions need `force` (the `publish` permission). */
export function deleteVersion(
	rows: PackageRows,
	now: string,
	ref: VersionRef,
	force: boolean,
	actor: Actor,
): Result<Change<{ version: string; removedKeys: string[] }>> {
	const row = versionByRef(rows, ref);
	if (!row) return refusals.versionNotFound(refName(ref));
	if (rows.versions.all().length === 1) return refusals.onlyVersion();
	const removed = removeVersions(rows, [row.version], force, actor, now);
	if (!removed.ok) return removed;
	return ok({
		value: { version: row.version, removedKeys: removed.value },
		action: "unpublish",
		target: row.version,
		detail: { force },
	});
}

/** Versions that channel history protects stay unless forced; the rest go, spliced out of every chain. */
export function removeVersions(
	rows: PackageRows,
	versions: string[],
	force: boolean,
	actor: Actor,
	now: string,
): Result<string[]> | Refusal {
	for (const version of versions) {
		const protecting = rows.channels.protectingChannels(version);
		if (protecting.length > 0 && !force) {
			return refusals.protectedVersion(rows.record.get()?.name ?? "", version, protecting);
		}
	}
	const keys: string[] = [];
	for (const version of versions) {
		keys.push(...rows.versions.remove(version, actor.label, now));
		rows.readmes.remove(version);
		rows.channels.spliceVersion(version);
		rows.rollouts.endFor(version);
	}
	if (versions.length > 0) repairLatest(rows, actor, now);
	return ok(keys);
}

/** npm expects `latest` while any version exists: if splicing removed it, it goes to the highest. */
function repairLatest(rows: PackageRows, actor: Actor, now: string): void {
	if (rows.channels.get("latest")) return;
	const remaining = rows.versions.all().map((v) => v.version);
	const stable = remaining.filter((v) => semver.prerelease(v) === null);
	const highest = semver.rsort(stable.length > 0 ? stable : remaining)[0];
	if (highest) rows.channels.move("latest", highest, actor.label, now);
}

export function versionByRef(rows: PackageRows, ref: VersionRef): VersionRow | null {
	return "versionId" in ref ? rows.versions.byId(ref.versionId) : rows.versions.get(ref.version);
}

/** A version's row and its files index, as a publish, an approved stage or an import stores them. */
export function insertVersion(
	versions: Versions,
	input: Pick<PublishInput, "version" | "manifest" | "tarball" | "files" | "unpackedSize" | "readme" | "signatures">,
	publishedAt: string,
	publishedBy: Person,
): string {
	const versionId = crypto.randomUUID();
	versions.insert(
		{
			version: input.version,
			version_id: versionId,
			manifest: JSON.stringify(input.manifest),
			integrity: input.tarball.integrity,
			shasum: input.tarball.shasum,
			tarball_key: input.tarball.key,
			tarball_size: input.tarball.size,
			files_key: input.files.key,
			file_count: input.files.index.length,
			unpacked_size: input.unpackedSize,
			entry_path: input.files.entryPath,
			entry_integrity: input.files.entryIntegrity,
			readme: input.readme?.readme ?? null,
			readme_filename: input.readme?.filename ?? null,
			published_at: publishedAt,
			published_by: JSON.stringify(publishedBy),
			signatures: input.signatures ? JSON.stringify(input.signatures) : null,
		},
		input.files.index,
	);
	return versionId;
}
