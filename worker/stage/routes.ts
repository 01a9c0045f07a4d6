import type { PackageName } from "../../schema/names";
import type { PackageInfo } from "../../schema/package/contract";
import type { StagedVersion } from "../../schema/trust/contract";
import { authStore } from "../auth/auth-store";
import { actorOf, can } from "../auth/permissions";
import { authenticate, type Principal } from "../auth/principal";
import { assertSecondFactor } from "../auth/two-factor";
import type { CacheName } from "../cache-control";
import { unwrap } from "../errors";
import { signedIn } from "../guards";
import { json, type RouteRequest } from "../http";
import { packageStub } from "../objects";
import { packageName } from "../params";
import { deleteBlobs } from "../publishing/store-version";
import { forgetPackage } from "../read-tier/tier";
import { refused } from "../refusals";
import { declare, type Handler, withCache } from "../route-policy";
import { isTrustedPublisher } from "../trust/trusted-token";

// npm stage list/view/download/approve/reject. A staged version is seen only by those who may
// publish its package (anyone else hears it does not exist); approving it is where a person proves
// presence: a one-time password where the user or the package asks for two factors, and the checks
// of a publish as they are now (a version published since the staging is refused). A trusted
// publisher's token can stage but never see, approve or reject.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_PER_PAGE = 100;
/** The most staged versions one listing looks through (they expire; a registry has few at a time). */
const LISTING_SCAN = 5_000;

type StagedContext = {
	request: RouteRequest;
	env: Env;
	id: string;
	item: StagedVersion;
	pkg: PackageName;
	principal: Principal;
	info: PackageInfo | null;
};

/**
 * A route about one staged version: who may publish its package, with a second factor for
 * `approve`/`reject`. `principal` says where the caller comes from when it is not the
 * Authorization header (the package page's session, worker/web/stage-forms.ts).
 */
export function stagedVersionRoute(
	policy: {
		auth: "write: publish" | "session write: publish";
		cache: CacheName;
		secondFactor: boolean;
		principal?: (request: RouteRequest, env: Env) => Promise<Principal>;
	},
	handle: (context: StagedContext) => Promise<Response>,
): Handler {
	return declare(
		async (request, env) => {
			const id = request.params.id ?? "";
			const principal = await (policy.principal ?? authenticate)(request, env);
			if (principal.kind === "anonymous") throw refused.logIn("stage");
			if (!UUID.test(id)) throw refused.stagedNotFound(id);
			const found = await authStore(env).stagedVersion(id);
			if (!found.ok) throw refused.stagedNotFound(id);
			const pkg = packageName(found.value.packageName);
			if (isTrustedPublisher(principal)) throw refused.trustedPublisherOnly(pkg.name);
			if (!can(principal, pkg, "publish")) throw refused.stagedNotFound(id);
			const info = await packageStub(env, pkg.name).info();
			const existing = info.ok ? info.value : null;
			if (policy.secondFactor) {
				await assertSecondFactor(request, env, principal, pkg, existing?.requireTwoFactor ?? false);
			}
			const response = await handle({ request, env, id, item: found.value, pkg, principal, info: existing });
			return withCache(policy.cache, response);
		},
		{ auth: policy.auth, cache: policy.cache },
	);
}

/** GET /-/stage?package=&page=&perPage=: `{ items, total }`, the staged versions the caller may publish. */
export const listStaged = signedIn(
	{ auth: "signedIn", cache: "none" },
	"stage",
	async ({ request, env, principal }) => {
		if (isTrustedPublisher(principal)) throw refused.trustedPublisherOnly(principal.name);
		const query = new URL(request.url).searchParams;
		const only = query.get("package");
		const filter = only ? packageName(only).name : null;
		const page = Math.max(0, Number.parseInt(query.get("page") ?? "0", 10) || 0);
		const perPage = Math.min(
			MAX_PER_PAGE,
			Math.max(1, Number.parseInt(query.get("perPage") ?? "", 10) || MAX_PER_PAGE),
		);
		const visible = (await authStore(env).stagedVersions(filter, LISTING_SCAN)).filter((item) =>
			can(principal, packageName(item.packageName), "publish"),
		);
		return json({ items: visible.slice(page * perPage, (page + 1) * perPage), total: visible.length });
	},
);

/** GET /-/stage/{id} */
export const viewStaged = stagedVersionRoute(
	{ auth: "write: publish", cache: "none", secondFactor: false },
	async ({ env, id, pkg }) => {
		const { item } = unwrap(await packageStub(env, pkg.name).stagedVersion(id));
		return json(item);
	},
);

/** GET /-/stage/{id}/tarball: the staged tarball, for inspection before approving it. */
export const downloadStaged = stagedVersionRoute(
	{ auth: "write: publish", cache: "none", secondFactor: false },
	async ({ env, id, pkg }) => {
		const { tarballKey } = unwrap(await packageStub(env, pkg.name).stagedVersion(id));
		const object = await env.BLOBS.get(tarballKey);
		if (object === null) throw refused.stagedNotFound(id);
		return new Response(object.body, {
			headers: { "content-type": "application/octet-stream", "content-length": String(object.size) },
		});
	},
);

/** POST /-/stage/{id}/approve: published atomically, as it was staged. */
export const approveStaged = stagedVersionRoute(
	{ auth: "write: publish", cache: "none", secondFactor: true },
	async (context) => {
		const rev = await approve(context);
		return json({ ok: true, id: context.pkg.name, rev });
	},
);

/** DELETE /-/stage/{id}: the staged version and its bytes are dropped. */
export const rejectStaged = stagedVersionRoute(
	{ auth: "write: publish", cache: "none", secondFactor: true },
	async (context) => {
		await reject(context);
		return json({ ok: true });
	},
);

/** Publishes a staged version (the API's and the page's approval alike); answers the package's new revision. */
export async function approve({ env, id, pkg, principal }: StagedContext): Promise<string> {
	const published = unwrap(await packageStub(env, pkg.name).approveStaged(id, actorOf(principal)));
	await authStore(env).unindexStaged([id]);
	await forgetPackage(env, pkg.name);
	return published.rev;
}

/** Drops a staged version and its bytes. */
export async function reject({ env, id, pkg, principal }: StagedContext): Promise<void> {
	const { removedKeys } = unwrap(await packageStub(env, pkg.name).rejectStaged(id, actorOf(principal)));
	await authStore(env).unindexStaged([id]);
	await deleteBlobs(env, removedKeys);
	await forgetPackage(env, pkg.name);
}
