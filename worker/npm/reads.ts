import { assertCanRead, authenticate, authorizeRead, can } from "../auth";
import { notFound } from "../errors";
import { decodeParam, json, publicBaseUrl, type RouteRequest } from "../http";
import { readBlob } from "../lib/blob-cache";
import { parseVersion } from "../lib/channel-name";
import { type PackageName, packageNameFromParams } from "../lib/package-name";
import { packageObject } from "../objects";

// Installs: packuments, version documents and tarballs. The package object is asked once per
// request, in parallel with the token check; packuments come out of it already serialised.

const ABBREVIATED = "application/vnd.npm.install-v1+json";

/** GET /{name}: the full packument, or the abbreviated one installers ask for. */
export async function getPackument(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const abbreviated = (request.headers.get("accept") ?? "").includes(ABBREVIATED) && request.query.write !== "true";
	const { result: doc } = await authorizeRead(request, env, pkg, async (stub) =>
		stub.getPackument(abbreviated ? "abbreviated" : "full", request.headers.get("if-none-match")),
	);
	const headers = {
		etag: doc.etag,
		"last-modified": new Date(doc.modified).toUTCString(),
		// Revalidate every time: a publish must be visible to the very next install.
		"cache-control": doc.access === "public" ? "public, no-cache" : "private, no-cache",
		vary: "accept, authorization",
	};
	if (doc.notModified) return new Response(null, { status: 304, headers });
	return new Response(doc.body.replaceAll(doc.placeholder, publicBaseUrl(request, env)), {
		headers: {
			...headers,
			"content-type": abbreviated ? `${ABBREVIATED}; charset=utf-8` : "application/json; charset=utf-8",
		},
	});
}

/** GET /{name}/{version-or-tag}: one version document. */
export async function getVersion(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const spec = decodeParam(request.params.version);
	const { result: doc } = await authorizeRead(request, env, pkg, async (stub) => stub.getVersionDocument(spec));
	if (doc.body === null) throw notFound(`version not found: ${spec}`);
	return new Response(doc.body.replaceAll(doc.placeholder, publicBaseUrl(request, env)), {
		headers: {
			"content-type": "application/json; charset=utf-8",
			"cache-control": doc.access === "public" ? "public, no-cache" : "private, no-cache",
		},
	});
}

/** GET /{name}/-/{basename}-{version}.tgz: the bytes, streamed from R2, cacheable forever. */
export async function getTarball(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const version = versionFromTarballName(pkg, decodeParam(request.params.file));
	// The caller first (a cached lookup), so that only downloads it may make are counted: the
	// count is a Map increment inside the same call, written later in bulk by the object.
	const principal = await authenticate(request, env);
	const tarball = await packageObject(env, pkg).getTarball(version, {
		count: !request.head && env.COUNT_DOWNLOADS !== "false",
		mayReadRestricted: can(principal, pkg, "read"),
	});
	if (!tarball.found) throw notFound();
	assertCanRead(principal, pkg, tarball.access);
	const body = await readBlob(env.BLOBS, tarball.key, tarball.size);
	if (!body) throw notFound();
	return new Response(body, {
		headers: {
			"content-type": "application/octet-stream",
			"content-length": String(tarball.size),
			etag: `"${tarball.integrity}"`,
			"cache-control": `${tarball.access === "public" ? "public" : "private"}, max-age=31536000, immutable`,
		},
	});
}

/** `name-1.2.3.tgz` → `1.2.3`, for this package's basename only. */
export function versionFromTarballName(pkg: PackageName, file: string): string {
	const prefix = `${pkg.basename}-`;
	if (!file.startsWith(prefix) || !file.endsWith(".tgz")) {
		throw notFound(`${file} is not a tarball of ${pkg.name}`);
	}
	return parseVersion(file.slice(prefix.length, -".tgz".length));
}

export function ping(): Response {
	return json({});
}
