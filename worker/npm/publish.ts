import type { Actor } from "../../schema/audit";
import { config } from "../../schema/config";
import { LIMITS } from "../../schema/limits";
import type { PackageName } from "../../schema/names";
import type { Access, PackageInfo } from "../../schema/package/contract";
import { type PackageDocument, PackageDocumentSchema } from "../../schema/requests/npm";
import { assertCan } from "../auth/permissions";
import { unwrap } from "../errors";
import { packageWrite, type WriteContext } from "../guards";
import { decodeParam, json, queryFlag, type RouteRequest, validate } from "../http";
import { channelName, versionNumber } from "../params";
import { attempting, type PublishAttempt } from "../publishing/attempt";
import { deleteBlobs, storeVersion, unpackToBundle } from "../publishing/store-version";
import { requirePackageJson } from "../publishing/tarball";
import { TarballWriter } from "../publishing/tarball-writer";
import { Unpacking } from "../publishing/unpacking";
import { refused } from "../refusals";
import { stageVersion } from "../stage/stage-version";
import { isTrustedPublisher } from "../trust/trusted-token";
import { assertMayCreate } from "../upstream/ownership";
import { IncomingAttachment } from "./attachment";
import { changeOwners } from "./owners";
import { readPublishBody } from "./publish-body";

// PUT /{name}: npm publish (a document with one version and its tarball as a base64 attachment),
// or, without attachments, npm deprecate / npm unpublish of one version (PUT /{name}/-rev/{rev}).
//
// The body streams (publish-body.ts): the tarball's base64 text is decoded as it arrives, hashed
// and written to R2, and at the same time inflated file by file into the version's file bundle;
// only the document is kept. Memory holds the document, two parts of each R2 upload and the file
// index, never the package.

const publishPolicy = {
	auth: "write",
	need: ["publish"],
	mustExist: false,
	cache: "none",
	trusted: "publish",
} as const;

// Every form of this request changes published state: refused before a large body is read.
export const putPackage = packageWrite(publishPolicy, (context) => receivePublish(context, "publish"));

/**
 * POST /-/stage/package/{name} (npm stage publish): the same body, read and checked the same way,
 * but the version is kept aside until someone who may publish approves it (worker/stage/).
 */
export const stagePackage = packageWrite({ ...publishPolicy, trusted: "stage", defersSecondFactor: true }, (context) =>
	receivePublish(context, "stage"),
);

type PublishMode = "publish" | "stage";

async function receivePublish(context: WriteContext<PackageInfo | null>, mode: PublishMode): Promise<Response> {
	const { request, env, pkg, principal, actor, stub, info } = context;
	const rev = request.params.rev === undefined ? null : decodeParam(request.params.rev);
	return attempting(env, pkg.name, request, async (attempt) => {
		let plan: PublishPlan | null = null;
		let incoming = null as IncomingAttachment | null;
		const version = () => plan?.version ?? null;
		const receive = (name: string) => {
			assertCan(principal, pkg, ["upload", "publish"], info?.access ?? null);
			if (incoming) throw oneAttachment();
			// An unknown name ("", a key the scanner could not read) is checked with the whole document.
			if (plan && name !== "") checkAttachmentName(name, plan.version);
			incoming = new IncomingAttachment(
				name,
				new TarballWriter(attempt.tarball(version)),
				new Unpacking((tarball) => unpackToBundle(env, attempt, version, tarball)),
			);
			return incoming;
		};
		try {
			const data = await readPublishBody(request, config(env).maxBodySize, {
				// npm sends the document first: a publish that will be refused is refused before its tarball is read.
				beforeAttachments: (head) => {
					if ("name" in head && "versions" in head && !isOwnersDocument(head)) {
						plan = planPublish(pkg, documentFor(pkg, head), []);
					}
				},
				attachment: receive,
			});
			// A trusted publisher's token, and a staged publish, only ever add a version with its tarball.
			const onlyAdds = mode === "stage" || isTrustedPublisher(principal);
			if (isOwnersDocument(data)) {
				if (onlyAdds) throw mode === "stage" ? refused.stageNeedsTarball() : refused.trustedPublisherOnly(pkg.name);
				return await changeOwners(context, data, rev);
			}
			const doc = documentFor(pkg, data);

			const attachments = Object.entries(doc._attachments ?? {});
			if (attachments.length > 0) {
				assertCan(principal, pkg, ["upload", "publish"], info?.access ?? null);
				// The first publish of a name upstream may have (the publish transaction checks again).
				if (info === null) await assertMayCreate(env, pkg, stub);
				const checked = planPublish(pkg, doc, attachments);
				plan = checked;
				const [name, attachment] = checked.attachment;
				// A `data` the scanner did not stream (a key written with escapes) is in the document, bounded by its limit.
				let received = incoming;
				if (received === null) {
					received = receive(name);
					await received.write(new TextEncoder().encode(attachment.data));
					await received.end();
				}
				return await publish(env, pkg, attempt, checked, received, attachment.length, {
					access: doc.access ?? config(env).defaultAccess,
					actor,
					mode,
				});
			}
			if (onlyAdds) throw mode === "stage" ? refused.stageNeedsTarball() : refused.trustedPublisherOnly(pkg.name);
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
					force: forceRequested(request),
					actor,
				}),
			);
			await deleteBlobs(env, result.removedKeys);
			return json({ ok: true, id: pkg.name, rev: result.rev });
		} finally {
			// Whatever the outcome, the tarball's reader lets go before the attempt's bytes are removed.
			await incoming?.abandon(new Error("the publish is over"));
		}
	});
}

/** The document, validated, for this package. */
function documentFor(pkg: PackageName, data: unknown): PackageDocument {
	const doc = validate(PackageDocumentSchema, data);
	if (doc.name !== pkg.name) throw refused.documentForOtherPackage(doc.name, pkg.name);
	return doc;
}

type Attachment = { data: string; length?: number };

/** What a publish document asks for, checked: one version, its manifest, its tags, one tarball. */
type PublishPlan = {
	version: string;
	manifest: PackageDocument["versions"][string];
	tags: string[];
	attachment: [string, Attachment];
};

/** Checks a publish document; without attachments (the members before them), all but those. */
function planPublish(pkg: PackageName, doc: PackageDocument, attachments: [string, Attachment][]): PublishPlan {
	const versions = Object.entries(doc.versions);
	const [entry] = versions;
	if (versions.length !== 1 || !entry) throw refused.notOneVersion();
	if (attachments.length > 1) throw oneAttachment();
	const [version, manifest] = entry;
	versionNumber(version);
	if (manifest.version !== version || manifest.name !== pkg.name) {
		throw refused.versionMisnamed(version, pkg.name);
	}
	const [attachment = ["", { data: "" }]] = attachments;
	if (attachments.length > 0) checkAttachmentName(attachment[0], version);
	const tags = Object.entries(doc["dist-tags"]);
	if (tags.length > LIMITS.tagsPerPublish) throw refused.tooManyTags();
	for (const [tag, target] of tags) {
		channelName(tag);
		if (target !== version) throw refused.tagElsewhere(tag);
	}
	return { version, manifest, tags: tags.length > 0 ? tags.map(([tag]) => tag) : ["latest"], attachment };
}

const oneAttachment = refused.notOneAttachment;

function checkAttachmentName(name: string, version: string): void {
	if (!name.endsWith(`-${version}.tgz`)) {
		throw refused.attachmentMisnamed(name, version);
	}
}

async function publish(
	env: Env,
	pkg: PackageName,
	attempt: PublishAttempt,
	plan: PublishPlan,
	received: IncomingAttachment,
	declaredLength: number | undefined,
	options: { access: Access; actor: Actor; mode: PublishMode },
): Promise<Response> {
	const { version, manifest } = plan;
	const tgz = received.tarball;
	if (declaredLength !== undefined && declaredLength !== tgz.size) {
		throw refused.attachmentLength(tgz.size, declaredLength);
	}
	// Integrity is known only now, at the end of the stream; a mismatch leaves nothing behind. It
	// is reported before anything the tarball's reader found wrong, as when nothing streamed.
	verifyDeclaredChecksums(manifest.dist, await tgz.checksums());
	const bundle = await received.bundle();
	const tarball = await tgz.close();
	const packageJson = requirePackageJson(bundle.packageJson("npm"));
	if (packageJson.name !== pkg.name || packageJson.version !== version) {
		throw refused.tarballNamesOther(
			`${String(packageJson.name)}@${String(packageJson.version)}`,
			`${pkg.name}@${version}`,
		);
	}
	const next = {
		version,
		manifest,
		packageJson,
		tarball,
		files: await bundle.close("npm"),
		tags: plan.tags,
		access: options.access,
		actor: options.actor,
	};
	if (options.mode === "stage") {
		const { id } = await stageVersion(env, pkg, attempt, next);
		return json({ ok: true, id: pkg.name, stageId: id }, { status: 201 });
	}
	const { rev } = await storeVersion(env, pkg, attempt, next);
	return json({ ok: true, id: pkg.name, rev, success: true }, { status: 201 });
}

function verifyDeclaredChecksums(
	dist: { integrity?: string; shasum?: string } | undefined,
	actual: { integrity: string; shasum: string },
): void {
	if (!dist?.integrity && !dist?.shasum) {
		throw refused.noChecksum();
	}
	if (dist.integrity) {
		const declared = dist.integrity.split(/\s+/).filter((h) => h.startsWith("sha512-"));
		if (!declared.includes(actual.integrity)) {
			throw refused.integrityMismatch();
		}
	}
	if (dist.shasum && dist.shasum.toLowerCase() !== actual.shasum) {
		throw refused.shasumMismatch();
	}
}

/** npm owner add/rm send `{ _id, _rev, maintainers }` and no versions. */
function isOwnersDocument(data: unknown): boolean {
	return typeof data === "object" && data !== null && !("versions" in data) && "maintainers" in data;
}

/**
 * `?force=true`: delete versions (or a package) that channels protect. Every route that reads it
 * already required `publish` on the package; the audit trail records the force.
 */
export function forceRequested(request: RouteRequest): boolean {
	return queryFlag(request, "force");
}
