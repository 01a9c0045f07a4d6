import { admin } from "../guards";
import { json } from "../http";
import { searchIndexStub } from "../objects";

// /-/admin/reindex: rebuild the search index from the package objects. The rebuild runs inside
// the index object in batches (its alarm); search keeps answering from the old rows meanwhile.

/** POST /-/admin/reindex → 202 with the rebuild's status */
export const startReindex = admin({ auth: "admin", cache: "none" }, async ({ env }) =>
	json(await searchIndexStub(env).startReindex(), { status: 202 }),
);

/** GET /-/admin/reindex → the status of the last rebuild */
export const reindexStatus = admin({ auth: "admin", cache: "none" }, async ({ env }) =>
	json(await searchIndexStub(env).reindexStatus()),
);
