import { hooksObject } from "../../durable-objects/stubs";
import { DUMP_PAGE_BYTES } from "../../schema/backup/contract";
import { ExportItemSchema } from "../../schema/backup/requests";
import { parsePackageName } from "../../schema/names";
import { unwrap } from "../errors";
import { admin } from "../guards";
import { assertDeclaredSize, json, readJson, urlOf } from "../http";
import { authStoreStub, packageStub, searchIndexStub } from "../objects";
import { forgetPackage } from "../read-tier/tier";
import { refused } from "../refusals";
import { blobKey } from "./export";

// POST /-/admin/restore: one item of an export archive (schema/backup/contract.ts) into this
// registry; PUT /-/admin/restore/blob: the bytes of one R2 key. A package not here is restored
// whole, its bytes before its rows, its rows before its package row, so nothing is served half
// restored; into a package here, what it lacks is added (durable-objects/package/restore-merge.ts)
// and nothing here is overwritten. Its head answers fresh, present, merge or conflict.

/** Items are pages of at most DUMP_PAGE_BYTES of rows; a head lists versions. Room for JSON's overhead. */
const ITEM_LIMIT = 4 * DUMP_PAGE_BYTES;

/** POST /-/admin/restore {item} → the head's verdict, or what a page of rows did */
export const restoreItem = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const item = await readJson(request, ExportItemSchema, ITEM_LIMIT);
	if (item.kind === "auth") {
		const restored = unwrap(await authStoreStub(env).restoreRows(item));
		if (restored.inserted > 0) await authStoreStub(env).audit(actor, "restore.auth", null, restored);
		return json(restored);
	}
	if (item.kind === "hooks") {
		const restored = unwrap(await hooksObject(env).restoreRows(item));
		if (restored.inserted > 0) await authStoreStub(env).audit(actor, "restore.hooks", null, restored);
		return json(restored);
	}
	const name = unwrap(parsePackageName(item.name)).name;
	const stub = packageStub(env, name);
	if (item.kind === "package") {
		const verdict = unwrap(await stub.beginRestore({ ...item, name }));
		// The package's own trail comes with its rows; the registry's log says who restored it.
		const detail = { state: verdict.state, rev: item.rev, versions: item.versions.length };
		await authStoreStub(env).audit(actor, "restore.package", name, detail);
		return json(verdict);
	}
	// No version without its bytes: the object checks that every version the page adds has its
	// tarball and bundle here before it writes the page.
	const restored = unwrap(await stub.restoreRows({ ...item, name }));
	// A name only claimed: the export walks the index's names, so the index hears of it.
	const tables = new Set(item.tables.map((t) => t.table));
	if (item.final && tables.has("claim") && !tables.has("package")) await searchIndexStub(env).claimed(name);
	// A merge changes a package that may have been read (and cached) here: its entries go.
	if (item.final) await forgetPackage(env, name);
	return json(restored);
});

/**
 * PUT /-/admin/restore/blob?key=…[&sha1=…] (Content-Length required) → { stored } (201) or
 * { present } when the same number of bytes is already there; other bytes under the key are a 409.
 * With sha1 (a tarball's shasum), R2 refuses bytes that do not hash to it.
 */
export const restoreBlob = admin({ auth: "admin", cache: "none" }, async ({ request, env }) => {
	const params = urlOf(request).searchParams;
	const key = blobKey(params.get("key"));
	const sha1 = params.get("sha1");
	if (sha1 !== null && !/^[0-9a-f]{40}$/.test(sha1)) throw refused.badSha1();
	const size = Number(request.headers.get("content-length") ?? "NaN");
	if (!Number.isSafeInteger(size) || size < 0) throw refused.lengthRequired();
	assertDeclaredSize(request, 5 * 1024 ** 3);
	const existing = await env.BLOBS.head(key);
	if (existing) {
		await request.body?.cancel();
		if (existing.size !== size) throw refused.otherBytesHere(key);
		return json({ key, present: true });
	}
	try {
		await env.BLOBS.put(key, request.body ?? new Uint8Array(), sha1 === null ? {} : { sha1 });
	} catch (error) {
		// Bytes that do not hash to the sha1 given are the client's to fix (the refusal says so);
		// any other failure of R2 is the operator's, and logged.
		if (!(sha1 !== null && /checksum/i.test(String(error)))) console.error("restore blob", key, error);
		throw refused.restoredBytesMismatch(key);
	}
	return json({ key, stored: true }, { status: 201 });
});
