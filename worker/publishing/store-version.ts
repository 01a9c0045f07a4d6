import type { Actor } from "../../schema/audit";
import { config } from "../../schema/config";
import { LIMITS } from "../../schema/limits";
import type { PackageName } from "../../schema/names";
import type { Access } from "../../schema/package/contract";
import { signingKey, signVersion } from "../../schema/signatures";
import { HttpError, unwrap } from "../errors";
import { packageStub } from "../objects";
import { tarballChecksums } from "./checksums";
import { bundleFiles, entryIntegrity, entryPath } from "./file-bundle";
import { registryManifest } from "./manifest";
import { readReadme, type TarballContents } from "./tarball";

// Storing a new version, for npm publish and bundle uploads alike: bytes first, under R2 keys
// unique to this attempt (two concurrent publishes of one version never write the same object),
// then the commit in the package's object. Every way the attempt can end without a commit (a
// refusal, a thrown error) deletes the attempt's bytes; if that cleanup itself fails, the
// unreferenced objects are swept by POST /-/admin/reindex. Never is a version left without bytes.

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
	const { manifest, overridden } = registryManifest(next.manifest, next.packageJson, next.contents);
	const signatures = await registrySignatures(env, pkg.name, next.version, checksums.integrity);
	if (JSON.stringify(manifest).length > LIMITS.manifestBytes) {
		throw new HttpError("payloadTooLarge", `the version manifest is larger than ${LIMITS.manifestBytes} bytes`);
	}
	const readme = readReadme(next.contents, LIMITS.readmeBytes);
	// Rendered here, before the commit and outside the object's single thread, once per version.
	const readmeHtml = readme === null ? null : (await import("../web/markdown")).renderReadme(readme.readme);
	let committed = false;
	// When the attempt began: the reindex sweep leaves an unreferenced object alone for an hour after.
	const customMetadata = { startedAt: new Date().toISOString() };
	try {
		await Promise.all([
			env.BLOBS.put(tarballKey, next.tgz, {
				httpMetadata: { contentType: "application/octet-stream" },
				sha1: checksums.shasum,
				customMetadata,
			}),
			env.BLOBS.put(filesKey, bundle.bytes, { customMetadata }),
		]);
		const result = await packageStub(env, pkg.name).publish({
			name: pkg.name,
			version: next.version,
			manifest,
			manifestOverrides: overridden,
			tags: next.tags,
			access: next.access,
			tarball: { key: tarballKey, ...checksums, size: next.tgz.byteLength },
			files: { key: filesKey, index: bundle.index, entryPath: entry, entryIntegrity: integrity },
			unpackedSize: next.contents.unpackedSize,
			readme,
			readmeHtml,
			signatures,
			actor: next.actor,
		});
		committed = result.ok;
		return { ...unwrap(result), entryPath: entry, entryIntegrity: integrity };
	} finally {
		if (!committed) await forgetAttempt(env, [tarballKey, filesKey]);
	}
}

/** The registry's signature of a version, made before the commit so it is stored in the same transaction. */
async function registrySignatures(env: Env, name: string, version: string, integrity: string) {
	const secret = config(env).registrySigningKey;
	if (secret === null) return undefined;
	return [await signVersion(await signingKey(secret), name, version, integrity)];
}

/** The bytes of an attempt that did not commit; a failed cleanup is left to the reindex sweep. */
async function forgetAttempt(env: Env, keys: string[]): Promise<void> {
	try {
		await deleteBlobs(env, keys);
	} catch (error) {
		console.error("could not delete the bytes of a failed publish; the next reindex sweeps them", keys, error);
	}
}

/** Deletes bytes no version references (any more). */
export async function deleteBlobs(env: Env, keys: string[]): Promise<void> {
	if (keys.length > 0) await env.BLOBS.delete(keys);
}
