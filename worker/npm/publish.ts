import type { Actor } from "../../schema/audit";
import { config } from "../../schema/config";
import { LIMITS } from "../../schema/limits";
import type { PackageName } from "../../schema/names";
import { type PackageDocument, PackageDocumentSchema } from "../../schema/requests/npm";
import { assertCan } from "../auth/permissions";
import type { Principal } from "../auth/principal";
import { badRequest, HttpError, unwrap } from "../errors";
import { packageWrite } from "../guards";
import { decodeParam, json, queryFlag, type RouteRequest, readJsonBody, validate } from "../http";
import { channelName, versionNumber } from "../params";
import { tarballChecksums } from "../publishing/checksums";
import { deleteBlobs, storeVersion } from "../publishing/store-version";
import { readPackageJson, readTarball } from "../publishing/tarball";
import { assertMayCreate } from "../upstream/ownership";
import { changeOwners } from "./owners";

// PUT /{name}: npm publish (a document with one version and its tarball as a base64 attachment),
// or, without attachments, npm deprecate / npm unpublish of one version (PUT /{name}/-rev/{rev}).

// Every form of this request changes published state: refused before a large body is read.
export const putPackage = packageWrite({ need: ["publish"], mustExist: false }, async (context) => {
	const { request, env, pkg, principal, actor, stub, info } = context;
	const data = await readJsonBody(request, config(env).maxBodySize);
	const rev = request.params.rev === undefined ? null : decodeParam(request.params.rev);
	if (isOwnersDocument(data)) return changeOwners(context, data, rev);
	const doc = validate(PackageDocumentSchema, data);
	if (doc.name !== pkg.name) throw badRequest(`the document is for "${doc.name}", not "${pkg.name}"`);

	const attachments = Object.entries(doc._attachments ?? {});
	if (attachments.length > 0) {
		assertCan(principal, pkg, ["upload", "publish"], info?.access ?? null);
		if (info === null) await assertMayCreate(env, pkg, stub);
		return publish(pkg, doc, attachments, actor, env);
	}
	const result = unwrap(
		await stub.update({
			rev,
			versions: Object.fromEntries(
				Object.entries(doc.versions).map(([v, m]) => [
					v,
					m.deprecated === undefined ? {} : { deprecated: m.deprecated },
				]),
			),
			removeMissing: rev !== null,
			force: forceRequested(request, principal),
			actor,
		}),
	);
	await deleteBlobs(env, result.removedKeys);
	return json({ ok: true, id: pkg.name, rev: result.rev });
});

async function publish(
	pkg: PackageName,
	doc: PackageDocument,
	attachments: [string, { data: string; length?: number }][],
	actor: Actor,
	env: Env,
): Promise<Response> {
	const versions = Object.entries(doc.versions);
	const [entry] = versions;
	if (versions.length !== 1 || !entry) throw badRequest("a publish must contain exactly one version");
	if (attachments.length !== 1) throw badRequest("a publish must contain exactly one attachment");
	const [version, manifest] = entry;
	versionNumber(version);
	if (manifest.version !== version || manifest.name !== pkg.name) {
		throw badRequest(`versions["${version}"] must have name "${pkg.name}" and version "${version}"`);
	}
	const [[attachmentName, attachment]] = attachments as [[string, { data: string; length?: number }]];
	if (!attachmentName.endsWith(`-${version}.tgz`)) {
		throw badRequest(`attachment "${attachmentName}" is not the tarball of version ${version}`);
	}
	const tags = Object.entries(doc["dist-tags"]);
	if (tags.length > LIMITS.tagsPerPublish)
		throw badRequest(`a publish sets at most ${LIMITS.tagsPerPublish} dist-tags`);
	for (const [tag, target] of tags) {
		channelName(tag);
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

	const { maxUnpackedSize, maxTarballEntries } = config(env);
	const contents = await readTarball(tgz, { layout: "npm", maxUnpackedSize, maxEntries: maxTarballEntries });
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
		access: doc.access ?? config(env).defaultAccess,
		actor,
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

/** `?force=true` deletes protected versions, and only an admin may say it. */
export function forceRequested(request: RouteRequest, principal: Principal): boolean {
	if (!queryFlag(request, "force")) return false;
	if (principal.kind !== "admin") throw new HttpError("forbidden", "force=true needs an admin token");
	return true;
}
