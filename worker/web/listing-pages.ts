import { config } from "../../schema/config";
import { LIMITS } from "../../schema/limits";
import type { SearchHit } from "../../schema/search/contract";
import type { Principal } from "../auth/principal";
import { publicBaseUrl, urlOf } from "../http";
import { searchIndexStub } from "../objects";
import { throughReadTier } from "../read-tier/tier";
import { refused } from "../refusals";
import { parseSearchQuery, readable } from "../search/query";
import { sees } from "../search/search";
import { type Html, html } from "./html";
import { date, packagePath } from "./package-page";
import { layout, pageHeaders, pageResponse, type Viewer, webPage } from "./page";

// The home page (the search box and the packages published last) and the search page (the
// registry's search: the same index, ranking and qualifiers as /-/v1/search). Both are one call
// to the index, through the read tier like the search API: what anyone without grants sees is
// shared, anyone else's view stays in this isolate.

const PAGE_SIZE = 20;
const MAX_PAGE = 500;

type Listed = {
	name: string;
	version: string;
	description: string;
	keywords: string[];
	weeklyDownloads: number;
	date: string;
};

/** GET / */
export const homePage = webPage({ auth: "viewer", cache: "personal" }, async ({ request, env, ctx, who }) =>
	cachedPage(request, env, ctx, who, "home", "home", "", async () => {
		const recent = await searchIndexStub(env).recent(readable(who.principal), 12);
		return layout({
			title: "Packages",
			body: html`<section class="hero" aria-labelledby="home-title">
<h1 id="home-title">Find a package</h1>
<form role="search" action="/search" method="get" class="big-search">
<label for="home-search">Search by name, keyword or description</label>
<input id="home-search" name="q" type="search" placeholder="e.g. keywords:ui widget">
<button type="submit">Search</button>
</form>
<p class="note">Qualifiers: <code>keywords:</code>, <code>author:</code>, <code>maintainer:</code>, <code>scope:</code>, <code>is:deprecated</code>, <code>not:unstable</code>.</p>
</section>
<section aria-labelledby="recent-title">
<h2 id="recent-title">Recently published</h2>
${
	recent.length === 0
		? html`<p class="empty">Nothing published yet.</p>`
		: packageList(
				recent.map((p) => ({ ...p, date: p.publishedAt })),
				env,
			)
}
</section>`,
		});
	}),
);

/** GET /search?q=&page= */
export const searchPage = webPage({ auth: "viewer", cache: "personal" }, async ({ request, env, ctx, who }) => {
	// Read no further than the search reads: the page shows what was searched for.
	const q = (first(request.query.q) ?? "").slice(0, LIMITS.searchTextLength);
	const page = Number(first(request.query.page) ?? "1");
	if (!Number.isInteger(page) || page < 1 || page > MAX_PAGE) throw refused.badPage(MAX_PAGE);
	const query = parseSearchQuery(
		{ text: q, size: String(PAGE_SIZE), from: String((page - 1) * PAGE_SIZE) },
		who.principal,
	);
	return cachedPage(request, env, ctx, who, "search page", "search", JSON.stringify([q, page]), async () => {
		const { hits, total } = q.trim() === "" ? { hits: [], total: 0 } : await searchIndexStub(env).search(query);
		const pages = Math.min(MAX_PAGE, Math.ceil(total / PAGE_SIZE));
		const link = (n: number) => `/search?q=${encodeURIComponent(q)}&page=${n}`;
		return layout({
			title: q === "" ? "Search" : `${q} · search`,
			query: q,
			body: html`<section aria-labelledby="results-title">
<h1 id="results-title">${q === "" ? "Search" : html`${total.toLocaleString("en-US")} ${total === 1 ? "package" : "packages"} for “${q}”`}</h1>
${hits.length === 0 ? html`<p class="empty">${q === "" ? "Type a name, a keyword or a description above." : "No packages found."}</p>` : packageList(hits.map(fromHit), env)}
${
	pages > 1
		? html`<nav class="pager" aria-label="Result pages">
${page > 1 ? html`<a rel="prev" href="${link(page - 1)}">Previous</a>` : ""}
<span>Page ${page} of ${pages}</span>
${page < pages ? html`<a rel="next" href="${link(page + 1)}">Next</a>` : ""}
</nav>`
		: ""
}
</section>`,
		});
	});
});

/**
 * Lists and search read weekly downloads from the index, which hears a package's count at most
 * every SEARCH_DOWNLOADS_PUSH_SECONDS; the package page counts them as they come. Both say so (#24.7).
 */
export function listFreshness(env: Env): Html {
	const minutes = Math.max(1, Math.round(config(env).searchDownloadsPushMs / 60_000));
	return html`<p class="note freshness">Weekly downloads here are the last 7 days as of up to ${minutes} ${minutes === 1 ? "minute" : "minutes"} ago; a package's page has the current count.</p>`;
}

function fromHit(hit: SearchHit): Listed {
	return { ...hit, date: hit.date };
}

function packageList(items: Listed[], env: Env): Html {
	return html`${listFreshness(env)}<ol class="packages">${items.map(
		(item) => html`<li>
<h3><a href="${packagePath(item.name)}">${item.name}</a> <span class="version">${item.version}</span></h3>
${item.description ? html`<p>${item.description}</p>` : ""}
${item.keywords.length > 0 ? html`<ul class="keywords" aria-label="Keywords">${item.keywords.slice(0, 8).map((k) => html`<li><a href="/search?q=${encodeURIComponent(`keywords:${k}`)}">${k}</a></li>`)}</ul>` : ""}
<p class="meta">${item.weeklyDownloads.toLocaleString("en-US")} weekly downloads · <time datetime="${item.date}">${date(item.date)}</time></p>
</li>`,
	)}</ol>`;
}

/** A page about no one package, through the read tier by the viewer's view of the registry. */
async function cachedPage(
	request: Request,
	env: Env,
	ctx: ExecutionContext,
	who: Viewer,
	route: string,
	name: string,
	/** The query parameters the page reads, as it reads them (not the query string as sent). */
	asked: string,
	build: () => Promise<Html>,
): Promise<Response> {
	const view = await sees(who.principal as Principal);
	const url = urlOf(request);
	const answer = await throughReadTier({
		request,
		env,
		ctx,
		route,
		owner: null,
		key: `${publicBaseUrl(request, env)}${url.pathname}#${name}:${asked}:${view}`,
		shareable: () => view === "public",
		admits: () => true,
		produce: async () => ({
			response: new Response(String(await build()), { headers: pageHeaders() }),
			access: null,
			rev: null,
		}),
	});
	return pageResponse(request, who, await answer.text(), {
		headers: { "x-registry-cache": answer.headers.get("x-registry-cache") ?? "bypass" },
	});
}

function first(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value[0] : value;
}
