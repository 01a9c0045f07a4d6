import { config } from "../../schema/config";
import type { PackageName } from "../../schema/names";
import { upstreamMayServe } from "../../schema/upstream";
import { unwrap } from "../errors";
import type { PackageStub } from "../guards";

/**
 * Before the first publish (or upload) of a name that may come from upstream: refused while the
 * upstream registry has a package of that name (409; an admin can claim the name first), or cannot
 * be asked (503, unless ALLOW_PUBLISH_WHEN_UPSTREAM_DOWN). Otherwise one team's new package would
 * replace a public package of the same name for everyone installing through this registry.
 */
export async function assertMayCreate(env: Env, pkg: PackageName, stub: PackageStub): Promise<void> {
	if (!upstreamMayServe(config(env), pkg.scope)) return;
	unwrap(await stub.admitNewPackage(pkg.name));
}
