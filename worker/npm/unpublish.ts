import { unwrap } from "../errors";
import { packageWrite } from "../guards";
import { decodeParam, json } from "../http";
import { deleteBlobs } from "../publishing/store-version";
import { forceRequested } from "./publish";
import { versionFromTarballName } from "./reads";

// npm unpublish. One version: PUT /{name}/-rev/{rev} without it (see publish.ts), then
// DELETE /{name}/-/{file}/-rev/{rev}. Everything: DELETE /{name}/-rev/{rev}. Metadata is
// committed first; the bytes are deleted after, so a failure can only leave unreferenced bytes.

/** DELETE /{name}/-rev/{rev}: `npm unpublish pkg --force`. */
export const unpublishPackage = packageWrite(
	{ auth: "write", need: ["publish"], mustExist: true, cache: "none" },
	async ({ request, env, stub, actor }) => {
		const force = forceRequested(request);
		const result = unwrap(await stub.unpublishPackage(decodeParam(request.params.rev), force, actor));
		await deleteBlobs(env, result.removedKeys);
		return json({ ok: true });
	},
);

/** DELETE /{name}/-/{file}/-rev/{rev}: removes that version if the document update has not already. */
export const deleteTarball = packageWrite(
	{ auth: "write", need: ["publish"], mustExist: true, cache: "none" },
	async ({ request, env, pkg, stub, actor }) => {
		const version = versionFromTarballName(pkg, decodeParam(request.params.file));
		const force = forceRequested(request);
		const result = unwrap(await stub.removeTarball(version, decodeParam(request.params.rev), force, actor));
		await deleteBlobs(env, result.removedKeys);
		return json({ ok: true });
	},
);
