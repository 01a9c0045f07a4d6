import type { Access, Actor, PublishInput } from "../../durable-objects/package-metadata";
import { type PackageDocument, PackageDocumentSchema } from "../../schema/npm";
import { actorOf, assertCan, authorizeWrite, type Principal } from "../auth";
import { badRequest, HttpError, unwrap } from "../errors";
import { decodeParam, intVar, json, queryFlag, type RouteRequest, readJsonBody, validate } from "../http";
import { parseChannelName, parseVersion } from "../lib/channel-name";
import { tarballChecksums } from "../lib/crypto";
import { bundleFiles, entryIntegrity, entryPath, type FileBundle } from "../lib/file-bundle";
import { type PackageName, packageNameFromParams } from "../lib/package-name";
import { readPackageJson, readReadme, readTarball, type TarballContents } from "../lib/tarball";
import { packageObject } from "../objects";
import { changeOwners } from "./access";

// PUT /{name}: npm publish (a document with one version and its tarball as a base64 attachment),
// or, without attachments, npm deprecate / npm unpublish of one version (PUT /{name}/-rev/{rev}).

export async function putPackage(request: RouteRequest, env: Env, ctx: ExecutionContext): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	// Every form of this request changes published state: refuse before reading a large body.
	const { principal, info } = await authorizeWrite(request, env, pkg, ["publish"]);
	const access = info.exists ? info.access : null;

	const data = await readJsonBody(request, intVar(env.MAX_BODY_SIZE, 26_214_400));
	const rev = request.params.rev === undefined ? null : decodeParam(request.params.rev);
	if (isOwnersDocument(data)) return changeOwners(pkg, data, rev, principal, env);
	const doc = validate(PackageDocumentSchema, data);
	if (doc.name !== pkg.name) throw badRequest(`the document is for "${doc.name}", not "${pkg.name}"`);

	const attachments = Object.entries(doc._attachments ?? {});
	if (attachments.length > 0) {
		assertCan(principal, pkg, ["upload", "publish"], access);
		return publish(pkg, doc, attachments, principal, env, ctx);
	}
	const result = unwrap(
		await packageObject(env, pkg).update({
			rev,
			versions: Object.fromEntries(
				Object.entries(doc.versions).map(([v, m]) => [
					v,
					m.deprecated === undefined ? {} : { deprecated: m.deprecated },
				]),
			),
			removeMissing: rev !== null,
			force: forceRequested(request, principal),
			actor: actorOf(principal),
		}),
	);
	await deleteBlobs(env, result.removedKeys);
	return json({ ok: true, id: pkg.name, rev: result.rev });
}

async function publish(
	pkg: PackageName,
	doc: PackageDocument,
	attachments: [string, { data: string; length?: number }][],
	principal: Principal,
	env: Env,
	ctx: ExecutionContext,
): Promise<Response> {
	const versions = Object.entries(doc.versions);
	const [entry] = versions;
	if (versions.length !== 1 || !entry) throw badRequest("a publish must contain exactly one version");
	if (attachments.length !== 1) throw badRequest("a publish must contain exactly one attachment");
	const [version, manifest] = entry;
	parseVersion(version);
	if (manifest.version !== version || manifest.name !== pkg.name) {
		throw badRequest(`versions["${version}"] must have name "${pkg.name}" and version "${version}"`);
	}
	const [[attachmentName, attachment]] = attachments as [[string, { data: string; length?: number }]];
	if (!attachmentName.endsWith(`-${version}.tgz`)) {
		throw badRequest(`attachment "${attachmentName}" is not the tarball of version ${version}`);
	}
	const tags = Object.entries(doc["dist-tags"]);
	for (const [tag, target] of tags) {
		parseChannelName(tag);
		if (target !== version) throw badRequest(`dist-tags.${tag} must point at the version being published`);
	}

	const tgz = decodeBase64(attachment.data);
	if (attachment.length !== undefined && attachment.length !== tgz.byteLength) {
		throw new HttpError(
			"integrityMismatch",
			`attachment length is ${tgz.byteLength}, the document says ${attachment.length}`,
		);
	}
	const checksums = await tarballChecksums(tgz);
	verifyDeclaredChecksums(manifest.dist, checksums);

	const contents = await readTarball(tgz, {
		layout: "npm",
		maxUnpackedSize: intVar(env.MAX_UNPACKED_SIZE, 104_857_600),
	});
	const packageJson = readPackageJson(contents);
	if (packageJson.name !== pkg.name || packageJson.version !== version) {
		throw new HttpError(
			"manifestMismatch",
			`the tarball's package.json is ${String(packageJson.name)}@${String(packageJson.version)}, the document publishes ${pkg.name}@${version}`,
		);
	}

	const bundle = await bundleFiles(contents.files);
	const input = await publishInput(pkg, version, manifest, packageJson, contents, bundle, tgz.byteLength, checksums, {
		tags: tags.length > 0 ? tags.map(([tag]) => tag) : ["latest"],
		access: doc.access ?? defaultAccess(env),
		actor: actorOf(principal),
	});
	// Bytes first, under keys no other publish can use; the version exists only once they are stored.
	await Promise.all([
		env.BLOBS.put(input.tarball.key, tgz, {
			httpMetadata: { contentType: "application/octet-stream" },
			sha1: checksums.shasum,
		}),
		env.BLOBS.put(input.files.key, bundle.bytes),
	]);
	const result = await packageObject(env, pkg).publish(input);
	if (!result.ok) {
		ctx.waitUntil(deleteBlobs(env, [input.tarball.key, input.files.key]));
		unwrap(result);
	}
	return json({ ok: true, id: pkg.name, rev: result.ok ? result.rev : "", success: true }, { status: 201 });
}

/** Everything the package object needs to commit a version whose bytes are (about to be) stored. */
export async function publishInput(
	pkg: PackageName,
	version: string,
	manifest: Record<string, unknown>,
	packageJson: Record<string, unknown>,
	contents: TarballContents,
	bundle: FileBundle,
	tarballSize: number,
	checksums: { integrity: string; shasum: string },
	options: { tags: string[]; access: Access; actor: Actor },
): Promise<PublishInput> {
	// A fresh key per attempt: two concurrent publishes of one version never write the same object.
	const attempt = crypto.randomUUID();
	const entry = entryPath(contents.files, packageJson);
	return {
		name: pkg.name,
		version,
		manifest: registryManifest(manifest, contents),
		tags: options.tags,
		access: options.access,
		tarball: { key: `tarballs/${pkg.name}/${version}/${attempt}.tgz`, ...checksums, size: tarballSize },
		files: {
			key: `files/${pkg.name}/${version}/${attempt}.bin`,
			index: bundle.index,
			entryPath: entry,
			entryIntegrity: await entryIntegrity(contents.files, entry),
		},
		unpackedSize: contents.unpackedSize,
		readme: readReadme(contents),
		actor: options.actor,
	};
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

function verifyDeclaredChecksums(
	dist: { integrity?: string; shasum?: string } | undefined,
	actual: { integrity: string; shasum: string },
): void {
	if (!dist?.integrity && !dist?.shasum) {
		throw badRequest("versions[].dist must declare the tarball's integrity or shasum");
	}
	if (dist.integrity) {
		const declared = dist.integrity.split(/\s+/).filter((h) => h.startsWith("sha512-"));
		if (!declared.includes(actual.integrity)) {
			throw new HttpError("integrityMismatch", "the attachment does not match dist.integrity (sha512)");
		}
	}
	if (dist.shasum && dist.shasum.toLowerCase() !== actual.shasum) {
		throw new HttpError("integrityMismatch", "the attachment does not match dist.shasum (sha1)");
	}
}

function decodeBase64(data: string): Uint8Array<ArrayBuffer> {
	try {
		return Uint8Array.fromBase64(data) as Uint8Array<ArrayBuffer>;
	} catch {
		throw badRequest("the attachment data is not valid base64");
	}
}

/** npm owner add/rm send `{ _id, _rev, maintainers }` and no versions. */
function isOwnersDocument(data: unknown): boolean {
	return typeof data === "object" && data !== null && !("versions" in data) && "maintainers" in data;
}

export function defaultAccess(env: Env): Access {
	return env.DEFAULT_ACCESS === "public" ? "public" : "restricted";
}

/** `?force=true` deletes protected versions, and only an admin may say it. */
export function forceRequested(request: RouteRequest, principal: Principal): boolean {
	if (!queryFlag(request, "force")) return false;
	if (principal.kind !== "admin") throw new HttpError("forbidden", "force=true needs an admin token");
	return true;
}

export async function deleteBlobs(env: Env, keys: string[]): Promise<void> {
	if (keys.length > 0) await env.BLOBS.delete(keys);
}
