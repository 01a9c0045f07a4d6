import { backupObject } from "../../durable-objects/stubs";
import { ARCHIVE_FORMAT, backupBlobKey, backupPageKey, type ExportPage } from "../../schema/backup/contract";
import { admin } from "../guards";
import { json, urlOf } from "../http";
import { refused } from "../refusals";
import { blobKey } from "./export";

// GET /-/admin/backups: the scheduled backups (durable-objects/backup/backup-store.ts); each one
// is read back page by page, in the export API's shape, so scripts/migrate-archive.mjs turns it
// into the same archive (`--from <URL> --backup <id> --to-archive <file>`). One R2 read a request.

/** GET /-/admin/backups → { backups: [{ id, state, startedAt, finishedAt, pages, packages, versions, bytes }] } newest first */
export const listBackups = admin({ auth: "admin", cache: "none" }, async ({ env }) =>
	json({ backups: await backupObject(env).list() }),
);

/** POST /-/admin/backups → 202 { backup }: a backup now (before a risky change), built like the daily one */
export const startBackup = admin({ auth: "admin", cache: "none" }, async ({ env }) =>
	json({ backup: await backupObject(env).start(Date.now()) }, { status: 202 }),
);

/** GET /-/admin/backups/{id}/export[?cursor=N] → page N of a finished backup: { format, items, next, calls } */
export const exportBackup = admin({ auth: "admin", cache: "none" }, async ({ request, env }) => {
	const id = String(request.params.id ?? "");
	const backup = await backupObject(env).get(id);
	if (!backup) throw refused.backupNotFound(id);
	if (backup.state !== "done") throw refused.backupUnfinished(id);
	const raw = urlOf(request).searchParams.get("cursor") ?? "1";
	const number = Number(raw);
	if (!Number.isSafeInteger(number) || number < 1) throw refused.foreignCursor();
	const stored = number <= backup.pages ? await env.BLOBS.get(backupPageKey(id, number)) : null;
	const items = stored ? ((await stored.json()) as ExportPage).items : [];
	const next = number < backup.pages ? String(number + 1) : null;
	return json({ format: ARCHIVE_FORMAT, items, next, calls: 1 });
});

/** GET /-/admin/backups/{id}/blob?key=… → the copy of the bytes the backup took */
export const backupBlob = admin({ auth: "admin", cache: "none" }, async ({ request, env }) => {
	const key = blobKey(urlOf(request).searchParams.get("key"));
	const object = await env.BLOBS.get(backupBlobKey(key));
	if (!object) throw refused.noBytesInBackups(key);
	return new Response(object.body, {
		headers: { "content-type": "application/octet-stream", "content-length": String(object.size) },
	});
});
