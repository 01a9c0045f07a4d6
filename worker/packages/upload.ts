import semver from "semver";
import { config } from "../../schema/config";
import { randomHex } from "../../schema/hashing";
import { refusals } from "../../schema/refusals";
import { can } from "../auth/permissions";
import { forbidden, HttpError, unprocessable } from "../errors";
import { type PackageStub, packageWrite } from "../guards";
import { json, readBodyBytes } from "../http";
import { versionNumber } from "../params";
import { storeVersion } from "../publishing/store-version";
import { findPackageJson, packTarball, readTarball, type TarballFile } from "../publishing/tarball";
import { assertMayCreate } from "../upstream/ownership";
import { versionLinks } from "./views";

// POST /packages/{name}/upload: a gzip tarball of a build (npm pack layout or files at the root)
// becomes a new immutable version without touching any channel. It is repacked as an npm tarball
// whose package.json carries the chosen name and version, so `npm install` can install it too.

export const uploadBundle = packageWrite({ need: ["upload"], mustExist: false }, async (context) => {
	const { request, env, pkg, principal, stub, actor, info } = context;
	const { maxBodySize, maxUnpackedSize, maxTarballEntries, defaultAccess } = config(env);
	// Choosing who may read a new package is a publisher's decision, not an uploader's.
	if (info === null && request.query.access === "public" && !can(principal, pkg, "publish")) {
		throw forbidden("making a new package public needs publish permission; upload it without access=public");
	}
	if (info === null) await assertMayCreate(env, pkg, stub);
	const body = await readBodyBytes(request, maxBodySize);
	const contents = await readTarball(body, { layout: "auto", maxUnpackedSize, maxEntries: maxTarballEntries });
	if (!contents.files.some((f) => f.path === "index.js")) throw unprocessable("the bundle has no index.js at its root");
	const bundled = findPackageJson(contents) ?? {};
	if (bundled.name !== undefined && bundled.name !== pkg.name) {
		throw new HttpError("manifestMismatch", `the bundle's package.json names ${String(bundled.name)}, not ${pkg.name}`);
	}
	const version = await chooseVersion(stub, bundled.version, request.query.version);

	const manifest = { ...bundled, name: pkg.name, version };
	const files: TarballFile[] = [
		{
			path: "package.json",
			bytes: new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`) as Uint8Array<ArrayBuffer>,
		},
		...contents.files.filter((f) => f.path !== "package.json"),
	];
	const access =
		request.query.access === "public" || request.query.access === "restricted" ? request.query.access : defaultAccess;
	const stored = await storeVersion(env, pkg, {
		version,
		manifest,
		packageJson: manifest,
		contents: { files, unpackedSize: files.reduce((sum, f) => sum + f.bytes.byteLength, 0) },
		tgz: await packTarball(files),
		tags: [],
		access,
		actor,
	});
	const { versionId, packageId } = stored;
	const links = await versionLinks(request, env, pkg.name, info?.access ?? access, {
		version,
		entryPath: stored.entryPath,
		entryIntegrity: stored.entryIntegrity,
	});
	return json({ packageId, versionId, version, ...links }, { status: 201 });
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
