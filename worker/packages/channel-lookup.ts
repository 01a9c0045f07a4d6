import { etagMatches } from "../../schema/etag";
import type { PackageName } from "../../schema/names";
import type { ChannelView, Readable } from "../../schema/package/contract";
import { inRollout } from "../../schema/rollouts";
import { mayRead } from "../auth/permissions";
import type { Principal } from "../auth/principal";
import { caller, settleRead } from "../guards";
import { publicBaseUrl, urlOf } from "../http";
import { packageRevision, packageStub } from "../objects";
import { channelParam, packageNameFromParams } from "../params";
import { PerEntry } from "../prepared-answer";
import type { CacheOutcome } from "../read-tier/metrics";
import { callerClass } from "../read-tier/refusals-kept";
import { lookupThroughReadTier } from "../read-tier/tier";
import { channelBody } from "./views";

// Channel lookups for web-component loaders: GET /packages/{name}/channels/{channel} and its
// import map. The channel's state (its target, and a staged rollout if one is under way) comes
// through the read tier; which of the two versions this client gets is decided per request, from
// a stable client key (the loader's X-Client-Key, else the caller's token id), so no cache ever
// shares one client's answer with another. Answers are revalidated on every load (no-cache with
// an ETag): a rollback shows at the next page load, an unchanged channel costs a 304.

type Cohort = "control" | "candidate";

type Built = { body: Uint8Array<ArrayBuffer>; headers: Headers; etag: string; notModified: Headers };

const encoder = new TextEncoder();

function channelLookup(
	route: string,
	build: (
		request: Request,
		env: Env,
		pkg: PackageName,
		view: Readable<ChannelView>,
	) => Promise<Record<string, unknown>>,
) {
	/**
	 * Built answers by the channel's state as the read tier keeps it (one object a hit shares, or a
	 * miss's own), then cohort and outcome: the same few bodies, encoded once, and header sets serve
	 * every load of a hot channel, and nothing is made per request to find them (#25).
	 */
	const built: Record<Cohort, PerEntry<CacheOutcome, Built>> = { control: new PerEntry(), candidate: new PerEntry() };
	return caller({ auth: "caller", cache: "revalidate" }, async ({ request, env, ctx, principal }) => {
		const pkg = packageNameFromParams(request.params);
		const channel = channelParam(request.params);
		const base = publicBaseUrl(request, env);
		const key = `${base}${urlOf(request).pathname}#state`;
		const { value: state, outcome } = await lookupThroughReadTier({
			request,
			env,
			ctx,
			route,
			owner: pkg.name,
			key,
			caller: callerClass(principal),
			shareable: (access) => access === "public",
			admits: (access) => mayRead(principal, pkg, access ?? "restricted"),
			revision: () => packageRevision(env, pkg.name),
			produce: async () => {
				const view = settleRead(principal, pkg, await packageStub(env, pkg.name).channel(channel));
				return { value: view, access: view.access, rev: view.rev };
			},
		});
		// Outside a rollout every client gets the control: decided without a promise.
		const cohort = state.rollout ? await cohortOf(request, principal, state) : "control";
		const view = cohort === "candidate" && state.rollout ? asCandidate(state) : state;
		let answer = built[cohort].get(state, outcome);
		if (answer === undefined) {
			const made = await build(request, env, pkg, view);
			const body = encoder.encode(
				JSON.stringify(
					state.rollout
						? { ...made, rollout: { version: state.rollout.version, percent: state.rollout.percent, cohort } }
						: made,
				),
			) as Uint8Array<ArrayBuffer>;
			const etag = `"${state.rev}-${cohort}"`;
			const headers: Record<string, string> = {
				etag,
				vary: state.rollout ? "authorization, x-client-key" : "authorization",
				"x-registry-cache": outcome,
			};
			answer = {
				body,
				etag,
				headers: new Headers({ ...headers, "content-type": "application/json; charset=utf-8" }),
				notModified: new Headers(headers),
			};
			built[cohort].set(state, outcome, answer);
		}
		// During a rollout the answer depends on the client: never for a shared cache.
		const facts = { access: state.access, perClient: state.rollout !== null };
		if (etagMatches(request.headers.get("if-none-match"), answer.etag)) {
			return { body: null, status: 304, headers: answer.notModified, ...facts };
		}
		return { body: answer.body, headers: answer.headers, ...facts };
	});
}

/** Which version this client gets during a rollout; a client with no stable key stays on the control. */
async function cohortOf(request: Request, principal: Principal, state: ChannelView): Promise<Cohort> {
	if (!state.rollout) return "control";
	const header = request.headers.get("x-client-key")?.trim().slice(0, 200) ?? "";
	const key = header !== "" ? header : "tokenId" in principal ? principal.tokenId : null;
	return (await inRollout(state.rollout.salt, state.rollout.percent, key)) ? "candidate" : "control";
}

function asCandidate(state: Readable<ChannelView>): Readable<ChannelView> {
	const rollout = state.rollout;
	if (!rollout) return state;
	return {
		...state,
		version: rollout.version,
		versionId: rollout.versionId,
		publishedAt: rollout.startedAt,
		entryPath: rollout.entryPath,
		entryIntegrity: rollout.entryIntegrity,
	};
}

/** GET /packages/{name}/channels/{channel} */
export const getChannel = channelLookup("channel", (request, env, pkg, view) =>
	channelBody(request, env, pkg.name, view.access, view),
);

/** GET /packages/{name}/channels/{channel}/importmap: a fragment for pages that use import maps. */
export const getImportMap = channelLookup("importmap", async (request, env, pkg, view) => {
	const { index, baseUri, integrity } = await channelBody(request, env, pkg.name, view.access, view);
	return {
		imports: { ...(index === null ? {} : { [pkg.name]: index }), [`${pkg.name}/`]: `${baseUri}/` },
		integrity: index !== null && integrity !== null ? { [index]: integrity } : {},
	};
});
