import { sha256Hex } from "../../schema/hashing";
import type { SearchHit, SearchQuery } from "../../schema/search/contract";
import type { Principal } from "../auth/principal";
import { caller } from "../guards";
import { json, publicBaseUrl } from "../http";
import { searchIndexStub } from "../objects";
import { throughReadTier } from "../read-tier/tier";
import { packagePath } from "../web/package-page";
import { parseSearchQuery } from "./query";

// GET /-/v1/search: npm's search API over the registry's FTS5 index, BM25 relevance blended with
// popularity from download counts; an exact name match comes first unless boost-exact:false.

export const search = caller({ auth: "caller", cache: "personal" }, async ({ request, env, ctx, principal }) => {
	const query = parseSearchQuery(request.query, principal);
	const base = publicBaseUrl(request, env);
	// Callers who see only public packages share answers; anyone else's stay in this isolate, theirs alone.
	const view = await sees(principal);
	return throughReadTier({
		request,
		env,
		ctx,
		route: "search",
		owner: null,
		// The query as read (text cut to its limit, qualifiers parsed), not as sent: parameters the
		// search never reads, or text past what it reads, neither miss the tier nor fill it.
		key: `${base}/-/v1/search#${searchKey(query)}#${view}`,
		shareable: () => view === "public",
		admits: () => true,
		produce: async () => {
			const { hits, total } = await searchIndexStub(env).search(query);
			const body = { objects: hits.map((hit) => searchObject(hit, base)), total, time: new Date().toUTCString() };
			return { response: json(body), access: null, rev: null };
		},
	});
});

/** Everything an answer depends on in a parsed query (who may read what is the view's part). */
export function searchKey(query: SearchQuery): string {
	const { readable: _, ...asked } = query;
	return JSON.stringify(asked);
}

/**
 * Whose view of the registry a search (or a page) shows: everyone's (public packages only), the
 * admin's, or one token's under its grants as they are now. The grants are part of the view, so a
 * grant just removed (which this isolate's token cache forgets at once) is a view never cached.
 */
export async function sees(principal: Principal): Promise<string> {
	if (principal.kind === "anonymous") return "public";
	if (principal.kind === "admin") return "admin";
	if (principal.grants.length === 0) return "public";
	return `token:${principal.tokenId}:${await sha256Hex(JSON.stringify(principal.grants))}`;
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
			// The package's page, as npm's public registry links npmjs.com (#24.6), not the packument.
			links: { npm: `${base}${packagePath(hit.name)}`, ...hit.links },
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
