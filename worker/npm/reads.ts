import { config } from "../../schema/config";
import type { Result } from "../../schema/errors";
import type { PackageName } from "../../schema/names";
import type { Access, TarballLocation, UpstreamNote, UpstreamTarball } from "../../schema/package/contract";
import { upstreamMayServe } from "../../schema/upstream";
import { can } from "../auth/permissions";
import { caller, packageRead } from "../guards";
import { decodeParam, json, publicBaseUrl } from "../http";
import { literal } from "../literal";
import { packageRevision, packageStub } from "../objects";
import { packageNameFromParams, versionNumber } from "../params";
import { PerEntry } from "../prepared-answer";
import { readBytes } from "../read-tier/bytes";
import { countDownload } from "../read-tier/downloads";
import type { CacheOutcome } from "../read-tier/metrics";
import { callerClass } from "../read-tier/refusals-kept";
import { lookupThroughReadTier, neverKeep } from "../read-tier/tier";
import { refused } from "../refusals";
import { tarballLookupKey } from "../upstream/first-fetch";
import { serveUpstreamTarball } from "../upstream/tarballs";

// Installs: packuments, version documents and tarballs. The package object is asked once per
// request, in parallel with the token check; packuments come out of it already serialised.

const ABBREVIATED = "application/vnd.npm.install-v1+json";

function wantsAbbreviated(request: Request & { query: Record<string, unknown> }): boolean {
	return (request.headers.get("accept") ?? "").includes(ABBREVIATED) && request.query.write !== "true";
}

/**
 * GET /{name}: the full packument, or the abbreviated one installers ask for; this registry's own,
 * or (for a name that is not this registry's) the upstream registry's copy its object keeps.
 * Cached: by clients, revalidated on every use (`no-cache` with an ETag, so a publish shows at the
 * next install and an unchanged packument costs a 304); by the Worker's read tier, for
 * READ_CACHE_SECONDS, then for as long as the package's revision holds.
 */
export const getPackument = packageRead(
	{
		auth: "read",
		cache: "revalidate",
		tier: {
			route: "packument",
			variant: (request) => (wantsAbbreviated(request) ? "abbreviated" : "full"),
			revalidateByRevision: true,
		},
	},
	async (stub, request, pkg, mayReadRestricted, env) =>
		stub.servedPackument(
			pkg.name,
			wantsAbbreviated(request) ? "abbreviated" : "full",
			request.headers.get("if-none-match"),
			mayReadRestricted,
			{
				base: publicBaseUrl(request, env),
				ifNoneMatch: request.heldBackIfNoneMatch ?? null,
				head: request.head === true,
			},
		),
	({ request, env, value: doc }) => {
		const abbreviated = wantsAbbreviated(request);
		const headers = {
			etag: doc.etag,
			"last-modified": new Date(doc.modified).toUTCString(),
			vary: "accept, authorization",
			"content-type": abbreviated ? `${ABBREVIATED}; charset=utf-8` : "application/json; charset=utf-8",
			...upstreamHeaders(doc.upstream),
		};
		// Too large to join (documents.ts): its bytes as the object reads them, the base URL in place
		// (a HEAD's: none); too large for the read tier to keep, too.
		if (doc.stream || doc.bodyless) return neverKeep(new Response(doc.stream ?? null, { headers }));
		if (doc.body === null) {
			const { "content-type": _, ...notModified } = headers;
			return new Response(null, { status: 304, headers: notModified });
		}
		return new Response(doc.body.replaceAll(doc.placeholder, literal(publicBaseUrl(request, env))), { headers });
	},
);

/** GET /{name}/{version-or-tag}: one version document. */
export const getVersion = packageRead(
	{ auth: "read", cache: "revalidate", tier: { route: "version", revalidateByRevision: true } },
	async (stub, request, pkg, mayReadRestricted) =>
		stub.servedVersionDocument(pkg.name, decodeParam(request.params.version), mayReadRestricted),
	({ request, env, value: doc }) =>
		new Response(doc.body.replaceAll(doc.placeholder, literal(publicBaseUrl(request, env))), {
			headers: {
				"content-type": "application/json; charset=utf-8",
				...upstreamHeaders(doc.upstream),
			},
		}),
);

/**
 * GET /{name}/-/{basename}-{version}.tgz: the bytes, cacheable forever. Where they lie comes from
 * the read tier (the object is asked once per READ_CACHE_SECONDS, which bounds how long an access
 * change or an unpublish takes to reach a tarball); the bytes from memory, the colo's cache or R2.
 * Every download the caller may make is counted: inside the object's answer when it was asked,
 * else in this isolate's batch (read-tier/downloads.ts). A tarball of an upstream package that
 * was never stored is fetched from upstream (worker/upstream/tarballs.ts); stored ones are served
 * like local ones, and are not counted.
 */
export const getTarball = caller({ auth: "caller", cache: "immutable" }, async ({ request, env, ctx, principal }) => {
	const pkg = packageNameFromParams(request.params);
	const version = versionFromTarballName(pkg, decodeParam(request.params.file));
	const count = !request.head && config(env).countDownloads;
	const mayRead = can(principal, pkg, "read");
	let countedByObject = false;
	let located: { value: TarballLocation & { access: Access }; outcome: CacheOutcome };
	try {
		located = await lookupThroughReadTier<TarballLocation & { access: Access }>({
			request,
			env,
			ctx,
			route: "tarball",
			owner: pkg.name,
			key: tarballLookupKey(pkg.name, version),
			caller: callerClass(principal),
			shareable: (access) => access === "public",
			// Any refusal is the same bare 404: the URL names nothing else the caller could learn about.
			admits: (access) => access === "public" || mayRead,
			revision: () => packageRevision(env, pkg.name),
			produce: async () => {
				const stub = packageStub(env, pkg.name);
				const options = { count, mayReadRestricted: mayRead };
				// Where upstream may serve the name, a tarball not stored here is fetched in the same call.
				const answer = upstreamMayServe(config(env), pkg.scope)
					? await stub.tarballOrUpstream(pkg.name, version, options)
					: { from: "held" as const, held: await stub.tarball(version, options) };
				if (answer.from === "upstream") throw new FromUpstream(answer.upstream);
				const found = answer.held;
				if (!found.ok || (found.value.access === "restricted" && !mayRead)) throw refused.hidden();
				countedByObject = count;
				const { key, size, integrity, access, rev, upstream } = found.value;
				return { value: { key, size, integrity, access, ...(upstream ? { upstream } : {}) }, access, rev };
			},
		});
	} catch (error) {
		if (error instanceof FromUpstream) return serveUpstreamTarball(request, env, ctx, pkg, version, error.answer);
		throw error;
	}
	const { value: tarball, outcome } = located;
	if (count && !countedByObject && !tarball.upstream) countDownload(env, ctx, pkg.name, version);
	const body = await readBytes(env, ctx, tarball.key, tarball.size, { shared: tarball.access === "public" });
	if (!body) throw refused.hidden();
	return { body, headers: tarballHeaders(tarball, outcome), access: tarball.access };
});

/**
 * A tarball's headers, made once per location the read tier keeps (a hit shares its parsed value)
 * and outcome, not once per download; as Headers, which a Response copies natively (#25).
 */
const madeHeaders = new PerEntry<string, Headers>();

function tarballHeaders(tarball: TarballLocation & { access: Access }, outcome: string): Headers {
	return (
		madeHeaders.get(tarball, outcome) ??
		madeHeaders.set(
			tarball,
			outcome,
			new Headers([
				["content-type", "application/octet-stream"],
				["content-length", String(tarball.size)],
				["etag", `"${tarball.integrity}"`],
				["x-registry-cache", outcome],
				...(tarball.upstream ? ([["x-registry-upstream", "hit"]] as [string, string][]) : []),
			]),
		)
	);
}

/** The object had no tarball of that version and asked upstream: its answer, thrown out of the read tier (which keeps nothing). */
class FromUpstream extends Error {
	constructor(readonly answer: Result<UpstreamTarball>) {
		super("fetched from upstream");
	}
}

/** `name-1.2.3.tgz` → `1.2.3`, for this package's basename only. */
export function versionFromTarballName(pkg: PackageName, file: string): string {
	const prefix = `${pkg.basename}-`;
	if (!file.startsWith(prefix) || !file.endsWith(".tgz")) {
		throw refused.notATarball(file, pkg.name);
	}
	return versionNumber(file.slice(prefix.length, -".tgz".length));
}

/**
 * GET /-/ping (`npm ping`, which "verifies authentication"): `{}`, to anyone; a token given is
 * checked as on every read, so a revoked or expired one fails here as the next install would (401),
 * not only once an install is under way.
 */
export const ping = caller({ auth: "caller", cache: "none" }, async () => json({}));

/** Marks an answer that came from the upstream registry, and says when its copy is stale. */
function upstreamHeaders(upstream: UpstreamNote | null): Record<string, string> {
	if (!upstream) return {};
	return { "x-registry-upstream": upstream.outcome, ...(upstream.warning ? { warning: upstream.warning } : {}) };
}
