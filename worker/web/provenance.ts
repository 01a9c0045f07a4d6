import type { Person } from "../../schema/package/contract";
import { type Html, html } from "./html";

// Where a version published by a trusted publisher came from, as npmjs shows provenance:
// "published from acme/app by release.yml at 4f1c2d3", each part a link to the CI provider.

export function provenanceLine(publishedBy: Person): Html | "" {
	const from = publishedBy.trustedPublisher;
	if (!from) return "";
	const link = (href: string | undefined, text: string) =>
		href ? html`<a href="${href}" rel="nofollow noopener">${text}</a>` : html`${text}`;
	return html`<p class="provenance">published from ${link(from.links.repository, from.repository)}${
		from.workflow ? html` by ${link(from.links.workflow, from.workflow)}` : ""
	}${from.commit ? html` at ${link(from.links.commit, from.commit.slice(0, 7))}` : ""}${
		from.run ? html` (${link(from.links.run, `run ${from.run}`)})` : ""
	}</p>`;
}
