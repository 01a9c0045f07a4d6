import semver from "semver";
import { actorOf, authorizeWrite } from "../auth";
import { HttpError, unwrap } from "../errors";
import { intVar, json, type RouteRequest, readBodyBytes } from "../http";
import { parseVersion } from "../lib/channel-name";
import { randomHex, tarballChecksums } from "../lib/crypto";
import { bundleFiles } from "../lib/file-bundle";
import { packageNameFromParams } from "../lib/package-name";
import { findPackageJson, packTarball, readTarball, type TarballFile } from "../lib/tarball";
import { defaultAccess, deleteBlobs, publishInput } from "../npm/publish";
import { packageObject } from "../objects";
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
	const tgz = await packTarball(files);
	const repacked = { files, unpackedSize: files.reduce((sum, f) => sum + f.bytes.byteLength, 0) };
	const bundle = await bundleFiles(files);
	const access =
		request.query.access === "public"
			? "public"
			: request.query.access === "restricted"
				? "restricted"
				: defaultAccess(env);
	const input = await publishInput(
		pkg,
		version,
		manifest,
		manifest,
		repacked,
		bundle,
		tgz.byteLength,
		await tarballChecksums(tgz),
		{
			tags: [],
			access,
			actor: actorOf(principal),
		},
	);
	await Promise.all([env.BLOBS.put(input.tarball.key, tgz), env.BLOBS.put(input.files.key, bundle.bytes)]);
	const result = await stub.publish(input);
	if (!result.ok) await deleteBlobs(env, [input.tarball.key, input.files.key]);
	const { versionId, packageId } = unwrap(result);
	const links = await versionLinks(request, env, pkg.name, info.exists ? info.access : access, {
		version,
		entryPath: input.files.entryPath,
		entryIntegrity: input.files.entryIntegrity,
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
