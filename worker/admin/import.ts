import type { Actor } from "../../schema/audit";
import { config } from "../../schema/config";
import { LIMITS } from "../../schema/limits";
import { parseChannelName, parseVersion } from "../../schema/names";
import type { Person } from "../../schema/package/contract";
import {
	ImportMetadataSchema,
	type ImportVersionDocument,
	ImportVersionSchema,
	importedTime,
} from "../../schema/requests/import";
import { unwrap } from "../errors";
import { admin } from "../guards";
import { json, readJson, validate } from "../http";
import { IncomingAttachment } from "../npm/attachment";
import { readPublishBody } from "../npm/publish-body";
import { packageStub } from "../objects";
import { packageNameFromParams, versionNumber } from "../params";
import { attempting } from "../publishing/attempt";
import type { TarballChecksums } from "../publishing/checksums";
import { prepareVersion, unpackToBundle } from "../publishing/store-version";
import { requirePackageJson } from "../publishing/tarball";
import { TarballWriter } from "../publishing/tarball-writer";
import { Unpacking } from "../publishing/unpacking";
import { forgetPackage } from "../read-tier/tier";
import { refused } from "../refusals";
import { assertMayCreate } from "../upstream/ownership";

// The admin import API: how `npm run migrate` (scripts/migrate.mjs) copies packages in from
// another registry, keeping what a republish would lose (each version's time, its deprecation,
// its publisher, dist-tags other than `latest`, unpublished numbers).
//
// PUT /-/admin/import/{name}: one version, in the shape of an npm publish (one version manifest,
// its tarball as a base64 attachment) plus the source's `time`. It streams through the publish
// pipeline (integrity, unpacking, file bundle, README, signing): the bytes must match the
// source's `dist.integrity` (sha512) and `dist.shasum`, install fields come from the tarball's own
// package.json, the version is signed with this registry's key. 201 copied; 200 `present` (here
// already with the same integrity: nothing written); 409 here with other bytes (never
// overwritten); 422 bytes that do not match (nothing stored).
//
// PUT /-/admin/import/{name}/-/metadata: once the versions are in, the dist-tags (channel moves
// with history), `created`/`modified`, maintainers and the numbers the source unpublished.

export const importVersion = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const pkg = packageNameFromParams(request.params);
	const stub = packageStub(env, pkg.name);
	return attempting(env, pkg.name, request, async (attempt) => {
		let version: string | null = null;
		let incoming = null as IncomingAttachment | null;
		const receive = (name: string) => {
			if (incoming) throw oneVersion();
			incoming = new IncomingAttachment(
				name,
				new TarballWriter(attempt.tarball(() => version)),
				new Unpacking((tarball) => unpackToBundle(env, attempt, () => version, tarball)),
			);
			return incoming;
		};
		try {
			const data = await readPublishBody(request, config(env).maxBodySize, {
				beforeAttachments: (head) => {
					const versions = head.versions;
					if (typeof versions === "object" && versions !== null) version = Object.keys(versions)[0] ?? null;
				},
				attachment: receive,
			});
			const plan = planImport(validate(ImportVersionSchema, data), pkg.name, actor);
			version = plan.version;
			let received = incoming;
			if (received === null) {
				// An attachment the scanner did not stream (a key written with escapes) is in the document.
				received = receive(plan.attachment.name);
				await received.write(new TextEncoder().encode(plan.attachment.data));
				await received.end();
			}
			const tgz = received.tarball;
			verifySourceChecksums(plan.version, plan.dist, await tgz.checksums());
			const bundle = await received.bundle();
			const tarball = await tgz.close();
			const packageJson = requirePackageJson(bundle.packageJson("npm"));
			if (packageJson.name !== pkg.name || packageJson.version !== plan.version) {
				throw refused.importTarballNamesOther(
					`${String(packageJson.name)}@${String(packageJson.version)}`,
					`${pkg.name}@${plan.version}`,
				);
			}
			const info = await stub.info();
			if (!info.ok) await assertMayCreate(env, pkg, stub);
			const input = await prepareVersion(env, pkg, {
				version: plan.version,
				manifest: plan.manifest,
				packageJson,
				tarball,
				files: await bundle.close("npm"),
				tags: [],
				access: plan.access ?? config(env).defaultAccess,
				actor,
			});
			const { tags: _none, ...rest } = input;
			// A README only the source's document has (older npm) is rendered as the tarball's would be.
			const readme = input.readme ?? plan.readme;
			const readmeHtml =
				input.readmeHtml ?? (readme === null ? null : (await import("../web/markdown")).renderReadme(readme.readme));
			const result = await stub.importVersion({
				...rest,
				readme,
				readmeHtml,
				publishedAt: plan.publishedAt,
				publishedBy: plan.publishedBy,
				deprecated: plan.deprecated,
			});
			// A version found here already keeps its own bytes: the attempt's copy is removed.
			attempt.committed = result.ok && result.value.status === "copied";
			const { status, rev } = unwrap(result);
			if (status === "copied") await forgetPackage(env, pkg.name);
			return json(
				{ ok: true, id: pkg.name, version: plan.version, status, rev },
				{ status: status === "copied" ? 201 : 200 },
			);
		} finally {
			await incoming?.abandon(new Error("the import is over"));
		}
	});
});

export const importMetadata = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const pkg = packageNameFromParams(request.params);
	const body = await readJson(request, ImportMetadataSchema);
	const distTags: Record<string, string> = {};
	const invalid: { tag: string; version: string; reason: string }[] = [];
	for (const [tag, version] of Object.entries(body["dist-tags"])) {
		const parsed = parseChannelName(tag);
		if (parsed.ok) distTags[tag] = version;
		else invalid.push({ tag, version, reason: parsed.message });
	}
	const time = (value: string | undefined) => (value === undefined ? null : importedTime(value));
	const result = unwrap(
		await packageStub(env, pkg.name).importMetadata({
			distTags,
			created: time(body.created),
			modified: time(body.modified),
			maintainers: body.maintainers?.map(person) ?? null,
			unpublished: (body.unpublished ?? []).filter((v) => parseVersion(v).ok),
			deprecated: Object.fromEntries(
				Object.entries(body.deprecated ?? {}).map(([version, message]) => [version, message === "" ? null : message]),
			),
			actor,
		}),
	);
	await forgetPackage(env, pkg.name);
	return json({ ok: true, id: pkg.name, ...result, skipped: [...invalid, ...result.skipped] });
});

type ImportPlan = {
	version: string;
	manifest: Record<string, unknown>;
	dist: { integrity?: string | undefined; shasum?: string | undefined };
	publishedAt: string;
	publishedBy: Person;
	deprecated: string | null;
	access: "public" | "restricted" | null;
	readme: { readme: string; filename: string } | null;
	attachment: { name: string; data: string };
};

/** Checks an import document: one version of this package, its time, one tarball. */
function planImport(doc: ImportVersionDocument, name: string, actor: Actor): ImportPlan {
	if (doc.name !== name) throw refused.importForOtherPackage(doc.name, name);
	const versions = Object.entries(doc.versions);
	const attachments = Object.entries(doc._attachments ?? {});
	const [entry] = versions;
	if (versions.length !== 1 || !entry || attachments.length > 1) throw oneVersion();
	const [version, manifest] = entry;
	versionNumber(version);
	if (manifest.version !== version || manifest.name !== name) {
		throw refused.importVersionMisnamed(version, name);
	}
	const publishedAt = importedTime(doc.time[version]);
	if (publishedAt === null) throw refused.importWithoutTime(version);
	if (!manifest.dist?.integrity && !manifest.dist?.shasum) {
		throw refused.importWithoutChecksum();
	}
	const [attachment] = attachments;
	if (!attachment) throw refused.importWithoutTarball();
	const readme = typeof manifest.readme === "string" && manifest.readme !== "" ? manifest.readme : null;
	return {
		version,
		manifest,
		dist: { integrity: manifest.dist.integrity, shasum: manifest.dist.shasum },
		publishedAt,
		publishedBy: sourcePublisher(manifest._npmUser) ?? person(actor),
		deprecated: manifest.deprecated ? manifest.deprecated : null,
		access: doc.access ?? null,
		// A README the source kept in the document (older npm) when the tarball has none.
		readme:
			readme === null
				? null
				: {
						readme: readme.slice(0, LIMITS.readmeBytes),
						filename: typeof manifest.readmeFilename === "string" ? manifest.readmeFilename : "README.md",
					},
		attachment: { name: attachment[0], data: attachment[1].data },
	};
}

/**
 * The bytes against what the source declared: every sha512 of `dist.integrity` it names (the
 * strongest hash npm writes), its sha1 when that is all it names, and `dist.shasum`. A source
 * that names only hashes this registry does not compute (sha256, sha384) without a shasum is
 * refused rather than taken unchecked.
 */
function verifySourceChecksums(version: string, dist: ImportPlan["dist"], actual: TarballChecksums): void {
	const mismatch = (what: string) => refused.importChecksumMismatch(version, what);
	const declared = (dist.integrity ?? "").split(/\s+/).filter((h) => h !== "");
	const sha512 = declared.filter((h) => h.startsWith("sha512-"));
	const sha1 = declared.filter((h) => h.startsWith("sha1-"));
	let checked = false;
	if (sha512.length > 0) {
		if (!sha512.includes(actual.integrity)) throw mismatch("dist.integrity (sha512)");
		checked = true;
	} else if (sha1.length > 0) {
		const hex = sha1.map((h) => Uint8Array.fromBase64(h.slice("sha1-".length)).toHex());
		if (!hex.includes(actual.shasum)) throw mismatch("dist.integrity (sha1)");
		checked = true;
	}
	if (dist.shasum) {
		if (dist.shasum.toLowerCase() !== actual.shasum) throw mismatch("dist.shasum (sha1)");
		checked = true;
	}
	if (!checked) throw mismatch("dist.integrity: it names no hash this registry can check (sha512, sha1)");
}

function sourcePublisher(value: unknown): Person | null {
	if (typeof value !== "object" || value === null) return null;
	const { name, email } = value as { name?: unknown; email?: unknown };
	if (typeof name !== "string" || name === "") return null;
	return typeof email === "string" && email !== "" ? { name, email } : { name };
}

function person(actor: Actor | { name: string; email?: string | undefined }): Person {
	return actor.email ? { name: actor.name, email: actor.email } : { name: actor.name };
}

const oneVersion = () => refused.importOneVersion();
