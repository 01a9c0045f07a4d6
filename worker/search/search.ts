import { searchIndex } from "../../durable-objects/stubs";
import type { SearchHit } from "../../schema/search/contract";
import { cacheControl } from "../cache-control";
import { caller } from "../guards";
import { json, publicBaseUrl } from "../http";
import { parseSearchQuery } from "./query";

// GET /-/v1/search: npm's search API over the registry's FTS5 index, BM25 relevance blended with
// popularity from download counts; an exact name match comes first unless boost-exact:false.

export const search = caller(async ({ request, env, principal }) => {
	const query = parseSearchQuery(request.query, principal);
	const { hits, total } = await searchIndex(env).search(query);
	const base = publicBaseUrl(request, env);
	return json(
		{ objects: hits.map((hit) => searchObject(hit, base)), total, time: new Date().toUTCString() },
		{ headers: { "cache-control": cacheControl.personal } },
	);
});

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
