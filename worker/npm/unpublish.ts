import { actorOf, authorizeWrite } from "../auth";
import { notFound, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest } from "../http";
import { packageNameFromParams } from "../lib/package-name";
import { packageObject } from "../objects";
import { deleteBlobs } from "../store-version";
import { forceRequested } from "./publish";
import { versionFromTarballName } from "./reads";

// npm unpublish. One version: PUT /{name}/-rev/{rev} without it (see publish.ts), then
// DELETE /{name}/-/{file}/-rev/{rev}. Everything: DELETE /{name}/-rev/{rev}. Metadata is
// committed first; the bytes are deleted after, so a failure can only leave unreferenced bytes.

/** DELETE /{name}/-rev/{rev}: `npm unpublish pkg --force`. */
export async function unpublishPackage(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const { principal, info } = await authorizeWrite(request, env, pkg, ["publish"]);
	if (!info.exists) throw notFound();
	const result = unwrap(
		await packageObject(env, pkg).unpublishPackage(decodeParam(request.params.rev), actorOf(principal)),
	);
	await deleteBlobs(env, result.removedKeys);
	return json({ ok: true });
}

/** DELETE /{name}/-/{file}/-rev/{rev}: removes that version if the document update has not already. */
export async function deleteTarball(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const version = versionFromTarballName(pkg, decodeParam(request.params.file));
	const { principal, info } = await authorizeWrite(request, env, pkg, ["publish"]);
	if (!info.exists) throw notFound();
	const result = unwrap(
		await packageObject(env, pkg).removeTarball(
			version,
			decodeParam(request.params.rev),
			forceRequested(request, principal),
			actorOf(principal),
		),
	);
	await deleteBlobs(env, result.removedKeys);
	return json({ ok: true });
}
