import type { Actor } from "../../schema/audit";
import { config } from "../../schema/config";
import { LIMITS } from "../../schema/limits";
import type { PackageName } from "../../schema/names";
import type { Access, PublishInput } from "../../schema/package/contract";
import { signingKey, signVersion } from "../../schema/signatures";
import { unwrap } from "../errors";
import { packageStub } from "../objects";
import { refused } from "../refusals";
import type { PublishAttempt } from "./attempt";
import { entryIntegrity, entryPath, type FileBundle, FileBundleWriter, readReadme } from "./file-bundle";
import { registryManifest } from "./manifest";
import { readTarballFiles, type TarballReadOptions } from "./tarball";
import type { StoredTarball } from "./tarball-writer";

// Storing a new version, for npm publish and bundle uploads alike: bytes first (the tarball and
// the file bundle, written to R2 by the attempt as they stream), then the commit in the package's
// object. The attempt (attempt.ts) removes its bytes on every way out without a commit; if that
// cleanup itself fails, the unreferenced objects are swept by POST /-/admin/reindex. Never is a
// version left without bytes.

/** A version about to be committed: what npm publish and bundle uploads both hand over. */
export type VersionToStore = {
	version: string;
	/** The version manifest as the client sent it (npm) or as the bundle has it (uploads). */
	manifest: Record<string, unknown>;
	/** The package.json inside the tarball: install fields, and which file a page imports first. */
	packageJson: Record<string, unknown>;
	tarball: StoredTarball;
	files: FileBundle;
	tags: string[];
	access: Access;
	actor: Actor;
};

/**
 * One pass over a gzip tarball: every file goes into a new file bundle of the attempt as it is
 * inflated. The bundle is left open (an upload adds its own package.json before closing it).
 */
export async function unpackToBundle(
	env: Env,
	attempt: PublishAttempt,
	version: () => string | null,
	gzipped: ReadableStream<Uint8Array>,
	options: Pick<TarballReadOptions, "sourceError"> = {},
): Promise<FileBundleWriter> {
	const { maxUnpackedSize, maxTarballEntries } = config(env);
	const bundle = new FileBundleWriter(attempt.bundle(version));
	await readTarballFiles(gzipped, { maxUnpackedSize, maxEntries: maxTarballEntries, ...options }, (file) =>
		bundle.add(file),
	);
	return bundle;
}

/**
 * Everything the package object needs to commit a version, made before the commit and outside the
 * object's single thread: the registry's manifest, the entry file's integrity, the README (rendered
 * once per version), the registry's signature. A staged version (npm stage) is kept as this.
 */
export async function prepareVersion(env: Env, pkg: PackageName, next: VersionToStore): Promise<PublishInput> {
	const { manifest, overridden } = registryManifest(
		next.manifest,
		next.packageJson,
		next.files.index.map((f) => f.path),
	);
	if (JSON.stringify(manifest).length > LIMITS.manifestBytes) {
		throw refused.manifestTooLarge();
	}
	const entry = entryPath(next.files.index, next.packageJson);
	const [integrity, readme, signatures] = await Promise.all([
		entryIntegrity(env, next.files, entry),
		readReadme(env, next.files, LIMITS.readmeBytes),
		registrySignatures(env, pkg.name, next.version, next.tarball.integrity),
	]);
	// Rendered here, before the commit and outside the object's single thread, once per version.
	const readmeHtml = readme === null ? null : (await import("../web/markdown")).renderReadme(readme.readme);
	return {
		name: pkg.name,
		version: next.version,
		manifest,
		manifestOverrides: overridden,
		tags: next.tags,
		access: next.access,
		tarball: {
			key: next.tarball.key,
			integrity: next.tarball.integrity,
			shasum: next.tarball.shasum,
			size: next.tarball.size,
		},
		files: { key: next.files.key, index: next.files.index, entryPath: entry, entryIntegrity: integrity },
		unpackedSize: next.files.unpackedSize,
		readme,
		readmeHtml,
		...(signatures ? { signatures } : {}),
		actor: next.actor,
	};
}

export async function storeVersion(env: Env, pkg: PackageName, attempt: PublishAttempt, next: VersionToStore) {
	const input = await prepareVersion(env, pkg, next);
	const result = await packageStub(env, pkg.name).publish(input);
	attempt.committed = result.ok;
	return { ...unwrap(result), entryPath: input.files.entryPath, entryIntegrity: input.files.entryIntegrity };
}

/** The registry's signature of a version, made before the commit so it is stored in the same transaction. */
async function registrySignatures(env: Env, name: string, version: string, integrity: string) {
	const secret = config(env).registrySigningKey;
	if (secret === null) return undefined;
	return [await signVersion(await signingKey(secret), name, version, integrity)];
}

/** Deletes bytes no version references (any more). */
export async function deleteBlobs(env: Env, keys: string[]): Promise<void> {
	if (keys.length > 0) await env.BLOBS.delete(keys);
}
