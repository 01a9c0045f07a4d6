import semver from "semver";
import { actorOf, authorizeWrite } from "../auth";
import { HttpError } from "../errors";
import { intVar, json, type RouteRequest, readBodyBytes } from "../http";
import { parseVersion } from "../lib/channel-name";
import { randomHex } from "../lib/crypto";
import { packageNameFromParams } from "../lib/package-name";
import { findPackageJson, packTarball, readTarball, type TarballFile } from "../lib/tarball";
import { defaultAccess } from "../npm/publish";
import { packageObject } from "../objects";
import { storeVersion } from "../store-version";
import { versionLinks } from "./views";

// POST /packages/{name}/upload: a gzip tarball of a build (npm pack layout or files at the root)
// becomes a new immutable version without touching any channel. It is repacked as an npm tarball
// whose package.json carries the chosen name and version, so `npm install` can install it too.

export async function uploadBundle(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const { principal, info } = await authorizeWrite(request, env, pkg, ["upload"]);
	const stub = packageObject(env, pkg);

	const body = await readBodyBytes(request, intVar(env.MAX_BODY_SIZE, 26_214_400));
	const contents = await readTarball(body, {
		layout: "auto",
		maxUnpackedSize: intVar(env.MAX_UNPACKED_SIZE, 104_857_600),
	});
	if (!contents.files.some((f) => f.path === "index.js")) {
		throw new HttpError("unprocessable", "the bundle has no index.js at its root");
	}
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
		request.query.access === "public" || request.query.access === "restricted"
			? request.query.access
			: defaultAccess(env);
	const stored = await storeVersion(env, pkg, {
		version,
		manifest,
		packageJson: manifest,
		contents: { files, unpackedSize: files.reduce((sum, f) => sum + f.bytes.byteLength, 0) },
		tgz: await packTarball(files),
		tags: [],
		access,
		actor: actorOf(principal),
	});
	const { versionId, packageId } = stored;
	const links = await versionLinks(request, env, pkg.name, info.exists ? info.access : access, {
		version,
		entryPath: stored.entryPath,
		entryIntegrity: stored.entryIntegrity,
	});
	return json({ packageId, versionId, version, ...links }, { status: 201 });
}

/**
 * The bundle's own version when it has one that is free; else `?version=` (which must be free);
 * else a generated prerelease that sorts by upload time.
 */
async function chooseVersion(
	stub: ReturnType<typeof packageObject>,
	bundled: unknown,
	query: string | string[] | undefined,
): Promise<string> {
	if (typeof bundled === "string" && semver.valid(bundled) === bundled) {
		if ((await stub.firstFreeVersion([bundled])) !== null) return bundled;
	}
	if (typeof query === "string") {
		const requested = parseVersion(query);
		if ((await stub.firstFreeVersion([requested])) === null) {
			throw new HttpError("versionExists", `You cannot publish over the previously published versions: ${requested}.`);
		}
		return requested;
	}
	const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
	// A leading letter keeps the identifier alphanumeric (numeric ones may not start with 0).
	return `0.0.0-upload.${stamp}.u${randomHex(4)}`;
}
