import type { Dependents } from "../../schema/search/contract";
import type { Principal } from "../auth/principal";
import { json, publicBaseUrl } from "../http";
import { literal } from "../literal";
import { searchIndexStub } from "../objects";
import { throughReadTier } from "../read-tier/tier";
import { readable } from "../search/query";
import { sees } from "../search/search";
import { type Html, html } from "./html";
import { packagePath } from "./package-page";

// A package page's "used by" (#24.9): the packages of this registry whose latest version depends
// on it (dependencies, peer or optional), as the search index knows them (durable-objects/search/
// dependents.ts), of those the viewer may read. The list changes with other packages' writes, not
// this one's, so it is not part of the page kept under this package's revision: the page carries
// a slot, filled per request from an answer of its own, kept in the read tier per view for
// READ_CACHE_SECONDS (shared through the colo only for the public view), as search answers are.

/** Stands in a package page's body for its dependents. */
export const DEPENDENTS_SLOT = "<!--registry:dependents-->";

/** Dependents named on the page; the rest are counted. */
export const DEPENDENTS_SHOWN = 50;

/** Fills a page's dependents slot (if it has one) with what this viewer may see. */
export async function withDependents(
	text: string,
	context: { request: Request; env: Env; ctx: ExecutionContext; principal: Principal; name: string },
): Promise<string> {
	if (!text.includes(DEPENDENTS_SLOT)) return text;
	const dependents = await dependentsOf(context);
	return text.replace(DEPENDENTS_SLOT, literal(String(dependentsSection(context.name, dependents))));
}

async function dependentsOf(context: {
	request: Request;
	env: Env;
	ctx: ExecutionContext;
	principal: Principal;
	name: string;
}): Promise<Dependents> {
	const { request, env, ctx, principal, name } = context;
	const view = await sees(principal);
	const answer = await throughReadTier({
		request,
		env,
		ctx,
		route: "dependents",
		// Other packages' writes change it: kept for READ_CACHE_SECONDS, never revalidated by a revision.
		owner: null,
		key: `${publicBaseUrl(request, env)}${packagePath(name)}#dependents:${view}`,
		shareable: () => view === "public",
		admits: () => true,
		produce: async () => ({
			response: json(await searchIndexStub(env).dependents(name, readable(principal), DEPENDENTS_SHOWN)),
			access: null,
			rev: null,
		}),
	});
	return (await answer.json()) as Dependents;
}

const KINDS: Record<Dependents["dependents"][number]["kind"], string> = {
	dependencies: "",
	peerDependencies: "peer",
	optionalDependencies: "optional",
};

export function dependentsSection(name: string, found: Dependents): Html {
	const more = found.total - found.dependents.length;
	return html`<section aria-labelledby="dependents-title" id="dependents">
<h2 id="dependents-title">Used by (${found.total.toLocaleString("en-US")})</h2>
<p class="note">Packages of this registry whose latest version depends on ${name} (dependencies, peer or optional), of those you may see.</p>
${
	found.total === 0
		? html`<p class="empty">None.</p>`
		: html`<ul class="dependencies dependents">${found.dependents.map(
				(d) =>
					html`<li><a href="${packagePath(d.name)}">${d.name}</a> <span class="version">${d.version}</span> <code>${d.range}</code>${KINDS[d.kind] ? html` <span class="tag">${KINDS[d.kind]}</span>` : ""}${d.deprecated ? html` <span class="tag">deprecated</span>` : ""}</li>`,
			)}</ul>`
}
${more > 0 ? html`<p class="note more">and ${more.toLocaleString("en-US")} more.</p>` : ""}
</section>`;
}
