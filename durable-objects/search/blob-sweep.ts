import { packageObject } from "../stubs";

// Part of every rebuild of the index (POST /-/admin/reindex): bytes in R2 that no version
// references any more are deleted. They are left behind when a publish fails and its own cleanup
// fails too, or when the deletion after an unpublish fails. Only objects older than a grace period
// go, so an attempt still between its upload and its commit is never touched.

const GRACE_MS = 60 * 60_000;

/** Deletes the unreferenced bytes of these packages; answers how many objects went. */
export async function sweepUnreferenced(env: Env, names: string[], now = Date.now()): Promise<number> {
	const counts = await Promise.all(names.map((name) => sweepPackage(env, name, now)));
	return counts.reduce((sum, n) => sum + n, 0);
}

async function sweepPackage(env: Env, name: string, now: number): Promise<number> {
	const referenced = new Set(await packageObject(env, name).blobKeys());
	const stale: string[] = [];
	for (const prefix of [`tarballs/${name}/`, `files/${name}/`]) {
		let cursor: string | undefined;
		do {
			const page = await env.BLOBS.list({ prefix, include: ["customMetadata"], ...(cursor ? { cursor } : {}) });
			for (const object of page.objects) {
				const started = Date.parse(object.customMetadata?.startedAt ?? "") || object.uploaded.getTime();
				if (!referenced.has(object.key) && now - started > GRACE_MS) stale.push(object.key);
			}
			cursor = page.truncated ? page.cursor : undefined;
		} while (cursor);
	}
	for (let i = 0; i < stale.length; i += 1000) await env.BLOBS.delete(stale.slice(i, i + 1000));
	return stale.length;
}
