import semver from "semver";
import type { VersionRef } from "../../durable-objects/package-metadata";
import { actorOf, authorizeRead, authorizeWrite } from "../auth";
import { badRequest, notFound, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest } from "../http";
import { packageNameFromParams } from "../lib/package-name";
import { forceRequested } from "../npm/publish";
import { packageObject } from "../objects";
import { deleteBlobs } from "../store-version";
import { versionBody } from "./views";

// Versions by number or versionId: try a build before any channel points at it, or delete one.

/** A version path segment: a semver number or a versionId (UUID). */
function parseVersionRef(raw: string | undefined): VersionRef {
	const value = decodeParam(raw);
	if (semver.valid(value) === value) return { version: value };
	if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value))
		return { versionId: value.toLowerCase() };
	throw badRequest(`"${value}" is neither a version number nor a versionId`);
}

/** GET /packages/{name}/versions */
export async function listVersions(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const { result } = await authorizeRead(request, env, pkg, async (stub) => stub.listVersions());
	const versions = await Promise.all(result.versions.map((v) => versionBody(request, env, pkg.name, result.access, v)));
	return json({ packageId: result.packageId, versions }, { headers: { "cache-control": "private, no-cache" } });
}

/** GET /packages/{name}/versions/{version-or-versionId} */
export async function getVersionInfo(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const ref = parseVersionRef(request.params.version);
	const { result } = await authorizeRead(request, env, pkg, async (stub) => stub.getVersion(ref));
	if (!result.view) throw notFound("version not found");
	// A version never changes, except for its deprecation: a short private cache is enough.
	return json(await versionBody(request, env, pkg.name, result.access, result.view), {
		headers: { "cache-control": "private, no-cache" },
	});
}

/** DELETE /packages/{name}/versions/{version-or-versionId}[?force=true] */
export async function deleteVersion(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const ref = parseVersionRef(request.params.version);
	const { principal, info } = await authorizeWrite(request, env, pkg, ["publish"]);
	if (!info.exists) throw notFound();
	const force = forceRequested(request, principal);
	const result = unwrap(await packageObject(env, pkg).deleteVersion(ref, force, actorOf(principal)));
	await deleteBlobs(env, result.removedKeys);
	return json({ ok: true, version: result.version });
}
