import semver from "semver";
import { config } from "../../schema/config";
import { randomHex } from "../../schema/hashing";
import { refusals } from "../../schema/refusals";
import { can } from "../auth/permissions";
import { HttpError } from "../errors";
import { type PackageStub, packageWrite } from "../guards";
import { json, limitedBody } from "../http";
import { versionNumber } from "../params";
import { attempting } from "../publishing/attempt";
import { packBundle } from "../publishing/repack";
import { storeVersion, unpackToBundle } from "../publishing/store-version";
import { TarballWriter } from "../publishing/tarball-writer";
import { refused } from "../refusals";
import { assertMayCreate } from "../upstream/ownership";
import { versionLinks } from "./views";

// POST /packages/{name}/upload: a gzip tarball of a build (npm pack layout or files at the root)
// becomes a new immutable version without touching any channel a publisher chose (only `latest`
// follows the highest version, until a publisher moves it: durable-objects/package/latest-follows.ts). It is repacked as an npm tarball
// whose package.json carries the chosen name and version, so `npm install` can install it too.
// The body streams into the file bundle as it arrives; the npm tarball is packed from the bundle,
// read back from R2. Memory holds a part of each R2 upload and the file index, never the bundle.

const upload = { auth: "write", need: ["upload"], mustExist: false, cache: "none" } as const;

export const uploadBundle = packageWrite(upload, async (context) => {
	const { request, env, pkg, principal, stub, actor, info } = context;
	const { maxBodySize, defaultAccess } = config(env);
	// Choosing who may read a new package is a publisher's decision, not an uploader's.
	if (info === null && request.query.access === "public" && !can(principal, pkg, "publish")) {
		throw refused.publicUploadNeedsPublish();
	}
	if (info === null) await assertMayCreate(env, pkg, stub);
	return attempting(env, pkg.name, request, async (attempt) => {
		// One pass over the body as it arrives: each file into the bundle, nothing held whole.
		let version: string | null = null;
		const { body, crossed } = limitedBody(request, maxBodySize);
		const bundle = await unpackToBundle(env, attempt, () => version, body, {
			sourceError: () => (crossed() ? refused.bodyTooLarge(maxBodySize) : null),
		});
		if (!bundle.paths("auto").includes("index.js")) throw refused.bundleWithoutIndex();
		const bundled = bundle.packageJson("auto") ?? {};
		if (bundled.name !== undefined && bundled.name !== pkg.name) {
			throw refused.bundleNamesOther(String(bundled.name), pkg.name);
		}
		const chosen = await chooseVersion(stub, bundled.version, request.query.version);
		version = chosen;

		const manifest = { ...bundled, name: pkg.name, version: chosen };
		const packageJson = new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
		await bundle.append("package.json", packageJson);
		const files = await bundle.close("auto");
		const tgz = new TarballWriter(attempt.tarball(() => chosen));
		await packBundle(env, files, { path: "package.json", bytes: packageJson }, tgz);
		const access =
			request.query.access === "public" || request.query.access === "restricted" ? request.query.access : defaultAccess;
		const stored = await storeVersion(env, pkg, attempt, {
			version: chosen,
			manifest,
			packageJson: manifest,
			tarball: await tgz.close(),
			files,
			tags: [],
			access,
			actor,
		});
		const { versionId, packageId, channelsMoved } = stored;
		const links = await versionLinks(request, env, pkg.name, info?.access ?? access, {
			version: chosen,
			entryPath: stored.entryPath,
			entryIntegrity: stored.entryIntegrity,
		});
		// Which channel the upload moved, if any: `latest` follows uploads until a publisher moves it.
		return json({ packageId, versionId, version: chosen, channelsMoved, ...links }, { status: 201 });
	});
});

/**
 * The bundle's own version when it has one that is free; else `?version=` (which must be free);
 * else a generated prerelease that sorts by upload time.
 */
async function chooseVersion(
	stub: PackageStub,
	bundled: unknown,
	query: string | string[] | undefined,
): Promise<string> {
	if (typeof bundled === "string" && semver.valid(bundled) === bundled) {
		if ((await stub.firstFreeVersion([bundled])) !== null) return bundled;
	}
	if (typeof query === "string") {
		const requested = versionNumber(query);
		if ((await stub.firstFreeVersion([requested])) === null) throw HttpError.from(refusals.versionExists(requested));
		return requested;
	}
	const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
	// A leading letter keeps the identifier alphanumeric (numeric ones may not start with 0).
	return `0.0.0-upload.${stamp}.u${randomHex(4)}`;
}
