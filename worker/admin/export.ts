import type * as v from "valibot";
import { exportPage, firstCursor } from "../../durable-objects/backup/export-pager";
import { hooksObject } from "../../durable-objects/stubs";
import { ARCHIVE_FORMAT, type ExportCursor } from "../../schema/backup/contract";
import { BLOB_KEY, ExportCursorSchema, ScopeParamSchema } from "../../schema/backup/requests";
import { unwrap } from "../errors";
import { admin } from "../guards";
import { json, urlOf, validate } from "../http";
import { authStoreStub, packageStub, searchIndexStub } from "../objects";
import { packageName } from "../params";
import { refused } from "../refusals";

// GET /-/admin/export: the registry's state, a page at a time (durable-objects/backup/export-pager.ts),
// and GET /-/admin/export/blob: the bytes of one R2 key the pages name. scripts/migrate-archive.mjs
// follows the pages and writes them, with the bytes, into an archive.

/** GET /-/admin/export[?scope=@s][&cursor=…] → { format, items, next, calls[, totals: { packages, versions } on the first page] } */
export const exportRegistry = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const params = urlOf(request).searchParams;
	const raw = params.get("cursor");
	// Who took the registry's state out, in the registry's audit log (once, at its first page).
	if (raw === null) await authStoreStub(env).audit(actor, "export", params.get("scope"), null);
	const start =
		raw === null
			? firstCursor(validate(ScopeParamSchema, params.get("scope") ?? undefined) ?? null)
			: decodeCursor(raw);
	const page = await exportPage(
		{
			packageNames: (after, limit, scope) => searchIndexStub(env).packageNames(after, limit, scope),
			exportHead: (name) => packageStub(env, name).exportHead(),
			exportRows: (name, rev, cursor) => packageStub(env, name).exportRows(rev, cursor),
			exportAuth: (cursor) => authStoreStub(env).exportRows(cursor),
			exportHooks: (cursor) => hooksObject(env).exportRows(cursor),
		},
		start,
	);
	// The first page says how much there is, for the command's time left (what the index knows).
	const totals = raw === null ? { totals: await searchIndexStub(env).exportTotals(start.scope) } : {};
	return json({
		...page,
		...totals,
		format: ARCHIVE_FORMAT,
		next: page.next === null ? null : encodeCursor(page.next),
	});
});

/** GET /-/admin/export/blob?key=… → the bytes, streamed from R2 */
export const exportBlob = admin({ auth: "admin", cache: "none" }, async ({ request, env }) => {
	const key = blobKey(urlOf(request).searchParams.get("key"));
	const object = await env.BLOBS.get(key);
	if (!object) throw refused.noBytes(key);
	return new Response(object.body, {
		headers: { "content-type": "application/octet-stream", "content-length": String(object.size) },
	});
});

/**
 * GET /-/admin/export/unpublished?package=<name> → { name, unpublished: [{ version, removedAt }] }:
 * the numbers removed here, which a packument does not name; `npm run migrate` from this registry
 * asks for them so they stay taken where it copies the package to.
 */
export const exportUnpublished = admin({ auth: "admin", cache: "none" }, async ({ request, env }) => {
	const name = packageName(urlOf(request).searchParams.get("package") ?? "").name;
	return json({ name, unpublished: unwrap(await packageStub(env, name).removedVersions()) });
});

export function blobKey(raw: string | null): string {
	if (raw === null || !BLOB_KEY.test(raw) || raw.split("/").includes("..")) {
		throw refused.notABlobKey();
	}
	return raw;
}

export function encodeCursor(cursor: ExportCursor): string {
	return btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(cursor))))
		.replaceAll("+", "-")
		.replaceAll("/", "_")
		.replace(/=+$/, "");
}

function decodeCursor(raw: string): ExportCursor {
	let parsed: unknown;
	try {
		const binary = atob(raw.replaceAll("-", "+").replaceAll("_", "/"));
		parsed = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
	} catch {
		throw refused.foreignCursor();
	}
	return validate(ExportCursorSchema, parsed) as v.InferOutput<typeof ExportCursorSchema>;
}
