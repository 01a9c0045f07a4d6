import semver from "semver";
import type { VersionRef } from "../../schema/package/contract";
import { unwrap } from "../errors";
import { packageRead, packageWrite } from "../guards";
import { decodeParam, json } from "../http";
import { forceRequested } from "../npm/publish";
import { deleteBlobs } from "../publishing/store-version";
import { refused } from "../refusals";
import { versionBody } from "./views";

// Versions by number or versionId: try a build before any channel points at it, or delete one.

/** A version path segment: a semver number or a versionId (UUID). */
function parseVersionRef(raw: string | undefined): VersionRef {
	const value = decodeParam(raw);
	if (semver.valid(value) === value) return { version: value };
	if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value))
		return { versionId: value.toLowerCase() };
	throw refused.badVersionRef(value);
}

/** GET /packages/{name}/versions */
export const listVersions = packageRead(
	{ auth: "read", cache: "personal" },
	async (stub) => stub.versions(),
	async ({ request, env, pkg, value }) => {
		const versions = await Promise.all(value.versions.map((v) => versionBody(request, env, pkg.name, value.access, v)));
		return json({ packageId: value.packageId, versions });
	},
);

/** GET /packages/{name}/versions/{version-or-versionId} */
export const getVersionInfo = packageRead(
	{ auth: "read", cache: "personal" },
	async (stub, request) => stub.version(parseVersionRef(request.params.version)),
	async ({ request, env, pkg, value }) => json(await versionBody(request, env, pkg.name, value.access, value)),
);

/** DELETE /packages/{name}/versions/{version-or-versionId}[?force=true] */
export const deleteVersion = packageWrite(
	{ auth: "write", need: ["publish"], mustExist: true, cache: "none" },
	async ({ request, env, stub, actor }) => {
		const ref = parseVersionRef(request.params.version);
		const result = unwrap(await stub.deleteVersion(ref, forceRequested(request), actor));
		await deleteBlobs(env, result.removedKeys);
		return json({ ok: true, version: result.version });
	},
);
