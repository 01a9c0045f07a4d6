import { config } from "../../schema/config";
import type { PackageName } from "../../schema/names";
import type { StagedVersion } from "../../schema/trust/contract";
import { authStore } from "../auth/auth-store";
import { unwrap } from "../errors";
import { packageStub } from "../objects";
import type { PublishAttempt } from "../publishing/attempt";
import { prepareVersion, type VersionToStore } from "../publishing/store-version";

// npm stage publish, after every check a publish makes: the version is prepared as for a publish
// and handed to its package's object to keep aside, its bytes staying where the attempt wrote
// them. The registry's index learns the stage id first (npm stage view/approve name no package);
// an entry whose staging then fails is never found in the package and expires with the others.

export async function stageVersion(
	env: Env,
	pkg: PackageName,
	attempt: PublishAttempt,
	next: VersionToStore,
): Promise<StagedVersion> {
	const input = await prepareVersion(env, pkg, next);
	const now = Date.now();
	const trusted = next.actor.trustedPublisher;
	const item: StagedVersion = {
		id: crypto.randomUUID(),
		packageName: pkg.name,
		version: next.version,
		tag: next.tags[0] ?? "latest",
		createdAt: new Date(now).toISOString(),
		expiresAt: new Date(now + config(env).stageTtlMs).toISOString(),
		actor: trusted ? `${next.actor.name} (${trusted.repository})` : next.actor.name,
		actorType: trusted ? "trustedPublisher" : "user",
		shasum: next.tarball.shasum,
		integrity: next.tarball.integrity,
	};
	await authStore(env).indexStaged(item);
	const result = await packageStub(env, pkg.name).stage(item, input);
	attempt.committed = result.ok;
	if (!result.ok) await authStore(env).unindexStaged([item.id]);
	return unwrap(result);
}
