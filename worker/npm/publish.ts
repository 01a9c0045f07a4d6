import type { Access } from "../../durable-objects/package-metadata";
import { type PackageDocument, PackageDocumentSchema } from "../../schema/npm";
import { actorOf, assertCan, authorizeWrite, type Principal } from "../auth";
import { badRequest, HttpError, unwrap } from "../errors";
import { decodeParam, intVar, json, queryFlag, type RouteRequest, readJsonBody, validate } from "../http";
import { parseChannelName, parseVersion } from "../lib/channel-name";
import { tarballChecksums } from "../lib/crypto";
import { type PackageName, packageNameFromParams } from "../lib/package-name";
import { readPackageJson, readTarball } from "../lib/tarball";
import { packageObject } from "../objects";
import { deleteBlobs, storeVersion } from "../store-version";
import { changeOwners } from "./access";

// PUT /{name}: npm publish (a document with one version and its tarball as a base64 attachment),
// or, without attachments, npm deprecate / npm unpublish of one version (PUT /{name}/-rev/{rev}).

export async function putPackage(request: RouteRequest, env: Env): Promise<Response> {
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
		return publish(pkg, doc, attachments, principal, env);
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
	verifyDeclaredChecksums(manifest.dist, await tarballChecksums(tgz));

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
	const { rev } = await storeVersion(env, pkg, {
		version,
		manifest,
		packageJson,
		contents,
		tgz,
		tags: tags.length > 0 ? tags.map(([tag]) => tag) : ["latest"],
		access: doc.access ?? defaultAccess(env),
		actor: actorOf(principal),
	});
	return json({ ok: true, id: pkg.name, rev, success: true }, { status: 201 });
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
