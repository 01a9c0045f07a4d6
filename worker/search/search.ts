import type { SearchHit } from "../../schema/search/contract";
import type { Principal } from "../auth/principal";
import { caller } from "../guards";
import { json, publicBaseUrl, urlOf } from "../http";
import { searchIndexStub } from "../objects";
import { throughReadTier } from "../read-tier/tier";
import { parseSearchQuery } from "./query";

// GET /-/v1/search: npm's search API over the registry's FTS5 index, BM25 relevance blended with
// popularity from download counts; an exact name match comes first unless boost-exact:false.

export const search = caller({ auth: "caller", cache: "personal" }, async ({ request, env, ctx, principal }) => {
	const query = parseSearchQuery(request.query, principal);
	const base = publicBaseUrl(request, env);
	// Callers who see only public packages share answers; anyone else's stay in this isolate, theirs alone.
	const view = sees(principal);
	return throughReadTier({
		request,
		env,
		ctx,
		route: "search",
		owner: null,
		key: `${base}/-/v1/search${urlOf(request).search}#${view}`,
		shareable: () => view === "public",
		authorize: async () => {},
		produce: async () => {
			const { hits, total } = await searchIndexStub(env).search(query);
			const body = { objects: hits.map((hit) => searchObject(hit, base)), total, time: new Date().toUTCString() };
			return { response: json(body), access: null, rev: null };
		},
	});
});

/** Whose view of the registry a search shows: everyone's (public packages only), or one token's. */
export function sees(principal: Principal): string {
	if (principal.kind === "anonymous") return "public";
	if (principal.kind === "admin") return "admin";
	return principal.grants.length === 0 ? "public" : `token:${principal.tokenId}`;
}

function searchObject(hit: SearchHit, base: string) {
	const ageDays = (Date.now() - Date.parse(hit.date)) / 86_400_000;
	const maintenance = round(Math.max(0, Math.min(1, 1 - (ageDays - 30) / 700)));
	const final = round(0.3 * hit.quality + 0.35 * hit.popularity + 0.35 * maintenance);
	const flags = {
		...(hit.deprecated ? { deprecated: hit.deprecated } : {}),
		...(hit.version.startsWith("0.") ? { unstable: true } : {}),
	};
	return {
		package: {
			name: hit.name,
			scope: hit.scope === null ? "unscoped" : hit.scope.slice(1),
			version: hit.version,
			description: hit.description,
			keywords: hit.keywords,
			date: hit.date,
			links: { npm: `${base}/${hit.name}`, ...hit.links },
			...(hit.author ? { author: hit.author } : {}),
			publisher: hit.publisher,
			maintainers: hit.maintainers,
		},
		...(Object.keys(flags).length > 0 ? { flags } : {}),
		score: { final, detail: { quality: hit.quality, popularity: round(hit.popularity), maintenance } },
		searchScore: round((hit.exact ? 100_000 : 0) + hit.relevance * (1 + hit.popularity)),
		downloads: { weekly: hit.weeklyDownloads },
	};
}

function round(value: number): number {
	return Math.round(value * 10_000) / 10_000;
}
