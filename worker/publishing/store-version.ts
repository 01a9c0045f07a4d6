import { packageObject } from "../../durable-objects/stubs";
import type { Actor } from "../../schema/audit";
import type { PackageName } from "../../schema/names";
import type { Access } from "../../schema/package/contract";
import { unwrap } from "../errors";
import { tarballChecksums } from "./checksums";
import { bundleFiles, entryIntegrity, entryPath } from "./file-bundle";
import { readReadme, type TarballContents } from "./tarball";

// Storing a new version, for npm publish and bundle uploads alike: bytes first, under R2 keys
// unique to this attempt (two concurrent publishes of one version never write the same object),
// then the commit in the package's object. A refused commit deletes the attempt's bytes, so a
// failure can leave unreferenced bytes (if the cleanup itself fails) but never a version without them.

/** A version about to be stored: what npm publish and bundle uploads both hand over. */
export type VersionToStore = {
	version: string;
	/** The version manifest as the client sent it (npm) or as the bundle has it (uploads). */
	manifest: Record<string, unknown>;
	/** The package.json inside the tarball: it says which file a page imports first. */
	packageJson: Record<string, unknown>;
	contents: TarballContents;
	tgz: Uint8Array<ArrayBuffer>;
	tags: string[];
	access: Access;
	actor: Actor;
};

export async function storeVersion(env: Env, pkg: PackageName, next: VersionToStore) {
	const attempt = crypto.randomUUID();
	const [checksums, bundle] = await Promise.all([tarballChecksums(next.tgz), bundleFiles(next.contents.files)]);
	const entry = entryPath(next.contents.files, next.packageJson);
	const integrity = await entryIntegrity(next.contents.files, entry);
	const tarballKey = `tarballs/${pkg.name}/${next.version}/${attempt}.tgz`;
	const filesKey = `files/${pkg.name}/${next.version}/${attempt}.bin`;
	await Promise.all([
		env.BLOBS.put(tarballKey, next.tgz, {
			httpMetadata: { contentType: "application/octet-stream" },
			sha1: checksums.shasum,
		}),
		env.BLOBS.put(filesKey, bundle.bytes),
	]);
	const result = await packageObject(env, pkg.name).publish({
		name: pkg.name,
		version: next.version,
		manifest: registryManifest(next.manifest, next.contents),
		tags: next.tags,
		access: next.access,
		tarball: { key: tarballKey, ...checksums, size: next.tgz.byteLength },
		files: {
			key: filesKey,
			index: bundle.index,
			entryPath: entry,
			entryIntegrity: integrity,
		},
		unpackedSize: next.contents.unpackedSize,
		readme: readReadme(next.contents),
		actor: next.actor,
	});
	if (!result.ok) await deleteBlobs(env, [tarballKey, filesKey]);
	return { ...unwrap(result), entryPath: entry, entryIntegrity: integrity };
}

/** Fields the registry owns (dist, _id, _npmUser, maintainers, …) are dropped; install facts added. */
function registryManifest(manifest: Record<string, unknown>, contents: TarballContents): Record<string, unknown> {
	const kept = Object.fromEntries(
		Object.entries(manifest).filter(
			([key]) =>
				(!key.startsWith("_") || key === "_nodeVersion" || key === "_npmVersion") &&
				!["dist", "maintainers", "readme", "readmeFilename", "deprecated", "hasInstallScript"].includes(key),
		),
	);
	const scripts = (manifest.scripts ?? {}) as Record<string, unknown>;
	const hasInstallScript = ["preinstall", "install", "postinstall"].some((s) => typeof scripts[s] === "string");
	return {
		...kept,
		...(hasInstallScript ? { hasInstallScript: true } : {}),
		_hasShrinkwrap: contents.files.some((f) => f.path === "npm-shrinkwrap.json"),
	};
}

/** Deletes bytes no version references (any more). */
export async function deleteBlobs(env: Env, keys: string[]): Promise<void> {
	if (keys.length > 0) await env.BLOBS.delete(keys);
}
