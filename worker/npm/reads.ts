import { packageObject } from "../../durable-objects/stubs";
import { config } from "../../schema/config";
import type { PackageName } from "../../schema/names";
import { can } from "../auth/permissions";
import { readBlob } from "../blob-cache";
import { cacheControl } from "../cache-control";
import { notFound } from "../errors";
import { caller, packageRead } from "../guards";
import { decodeParam, json, publicBaseUrl } from "../http";
import { packageNameFromParams, versionNumber } from "../params";

// Installs: packuments, version documents and tarballs. The package object is asked once per
// request, in parallel with the token check; packuments come out of it already serialised.

const ABBREVIATED = "application/vnd.npm.install-v1+json";

function wantsAbbreviated(request: Request & { query: Record<string, unknown> }): boolean {
	return (request.headers.get("accept") ?? "").includes(ABBREVIATED) && request.query.write !== "true";
}

/** GET /{name}: the full packument, or the abbreviated one installers ask for. */
export const getPackument = packageRead(
	async (stub, request) =>
		stub.packument(wantsAbbreviated(request) ? "abbreviated" : "full", request.headers.get("if-none-match")),
	({ request, env, value: doc }) => {
		const abbreviated = wantsAbbreviated(request);
		const headers = {
			etag: doc.etag,
			"last-modified": new Date(doc.modified).toUTCString(),
			"cache-control": cacheControl.revalidate(doc.access),
			vary: "accept, authorization",
		};
		if (doc.body === null) return new Response(null, { status: 304, headers });
		return new Response(doc.body.replaceAll(doc.placeholder, publicBaseUrl(request, env)), {
			headers: {
				...headers,
				"content-type": abbreviated ? `${ABBREVIATED}; charset=utf-8` : "application/json; charset=utf-8",
			},
		});
	},
);

/** GET /{name}/{version-or-tag}: one version document. */
export const getVersion = packageRead(
	async (stub, request) => stub.versionDocument(decodeParam(request.params.version)),
	({ request, env, value: doc }) =>
		new Response(doc.body.replaceAll(doc.placeholder, publicBaseUrl(request, env)), {
			headers: {
				"content-type": "application/json; charset=utf-8",
				"cache-control": cacheControl.revalidate(doc.access),
			},
		}),
);

/**
 * GET /{name}/-/{basename}-{version}.tgz: the bytes, streamed from R2, cacheable forever. The
 * caller first (a cached lookup), so that only downloads it may make are counted: the count is a
 * Map increment inside the same call, written later in bulk by the object.
 */
export const getTarball = caller(async ({ request, env, principal }) => {
	const pkg = packageNameFromParams(request.params);
	const version = versionFromTarballName(pkg, decodeParam(request.params.file));
	const found = await packageObject(env, pkg.name).tarball(version, {
		count: !request.head && config(env).countDownloads,
		mayReadRestricted: can(principal, pkg, "read"),
	});
	// Any refusal is the same bare 404: the URL names nothing else the caller could learn about.
	if (!found.ok || (found.value.access === "restricted" && !can(principal, pkg, "read"))) throw notFound();
	const tarball = found.value;
	const body = await readBlob(env.BLOBS, tarball.key, tarball.size);
	if (!body) throw notFound();
	return new Response(body, {
		headers: {
			"content-type": "application/octet-stream",
			"content-length": String(tarball.size),
			etag: `"${tarball.integrity}"`,
			"cache-control": cacheControl.immutable(tarball.access),
		},
	});
});

/** `name-1.2.3.tgz` → `1.2.3`, for this package's basename only. */
export function versionFromTarballName(pkg: PackageName, file: string): string {
	const prefix = `${pkg.basename}-`;
	if (!file.startsWith(prefix) || !file.endsWith(".tgz")) {
		throw notFound(`${file} is not a tarball of ${pkg.name}`);
	}
	return versionNumber(file.slice(prefix.length, -".tgz".length));
}

export function ping(): Response {
	return json({});
}
