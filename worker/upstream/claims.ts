import { ClaimSchema } from "../../schema/requests/admin";
import { unwrap } from "../errors";
import { admin } from "../guards";
import { json, readJson } from "../http";
import { packageStub, searchIndexStub } from "../objects";
import { packageName } from "../params";
import { deleteBlobs } from "../publishing/store-version";
import { forgetPackage } from "../read-tier/tier";

/**
 * POST /-/admin/claims { name }: the name becomes this registry's before anything is published
 * under it. It is never asked upstream again, its copies of upstream's documents and tarballs go,
 * and it may be published here although upstream has a package of that name. Recorded in the
 * package's audit trail (GET /-/admin/audit?package=name). 201 for a new claim; 200 when the name
 * was already claimed or published here.
 */
export const claimName = admin({ auth: "admin", cache: "none" }, async ({ request, env, actor }) => {
	const pkg = packageName((await readJson(request, ClaimSchema)).name);
	const claimed = unwrap(await packageStub(env, pkg.name).claim(pkg.name, actor));
	const { name, claimedAt, claimedBy, created } = claimed;
	await deleteBlobs(env, claimed.removedKeys);
	// The export walks the index's names: a name only claimed is in it too (issue #18); claiming
	// again adds one claimed before the index kept claims.
	await searchIndexStub(env).claimed(pkg.name);
	// Whatever this isolate and colo cached of upstream's answers under the name goes too.
	await forgetPackage(env, pkg.name);
	return json({ name, claimedAt, claimedBy }, { status: created ? 201 : 200 });
});
