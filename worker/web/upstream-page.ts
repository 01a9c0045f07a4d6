import semver from "semver";
import type { PackageName } from "../../schema/names";
import { publicBaseUrl } from "../http";
import { literal } from "../literal";
import { type Html, html, trusted } from "./html";
import { VERSION_FILES } from "./markdown";
import { date, installCommands, packagePath } from "./package-page";
import { layout } from "./page";

// The page of a package served from the upstream registry (#12): marked as such, drawn from the
// upstream's packument as this registry serves it (its copy, fresh or stale), with the versions,
// tags, install commands and the README upstream keeps. No channels, downloads or files: those
// belong to local packages only.

/** What the page reads of an upstream packument. */
type UpstreamPackument = {
	name?: unknown;
	description?: unknown;
	readme?: unknown;
	license?: unknown;
	"dist-tags"?: Record<string, unknown>;
	time?: Record<string, unknown>;
	versions?: Record<string, { description?: unknown; deprecated?: unknown; license?: unknown } | undefined>;
};

/** The page, or null when the packument has no such version. */
export async function renderUpstreamPage(
	request: Request,
	env: Env,
	pkg: PackageName,
	packument: UpstreamPackument,
	spec: string | null,
	warning: string | null,
): Promise<Html | null> {
	const versions = Object.keys(packument.versions ?? {}).filter((v) => semver.valid(v) !== null);
	const tags = Object.fromEntries(
		Object.entries(packument["dist-tags"] ?? {}).filter(
			(entry): entry is [string, string] => typeof entry[1] === "string",
		),
	);
	const chosen = spec === null ? (tags.latest ?? versions.at(-1)) : (tags[spec] ?? spec);
	const manifest = chosen === undefined ? undefined : packument.versions?.[chosen];
	if (chosen === undefined || manifest === undefined) return null;
	const text = (value: unknown) => (typeof value === "string" ? value : "");
	const description = text(manifest.description) || text(packument.description);
	const deprecated = text(manifest.deprecated);
	const published = text(packument.time?.[chosen]);
	const registry = `${publicBaseUrl(request, env)}/`;
	const installSpec = chosen === tags.latest ? pkg.name : `${pkg.name}@${chosen}`;
	// Upstream keeps one README (the latest's); its relative links have no files here to point at.
	const readme = text(packument.readme).slice(0, 256 * 1024);
	const readmeHtml = readme === "" ? null : (await import("./markdown")).renderReadme(readme);
	const tagsOf = (version: string) =>
		Object.entries(tags)
			.filter(([, v]) => v === version)
			.map(([tag]) => tag);
	const newestFirst = [...versions].sort((a, b) => semver.rcompare(a, b)).slice(0, 200);
	const body = html`<article class="package" aria-labelledby="package-name">
<header class="package-head">
<h1 id="package-name">${pkg.name}</h1>
<p class="meta"><span class="version">${chosen}</span>${chosen === tags.latest ? html` <span class="tag">latest</span>` : ""} <span class="tag upstream">upstream</span>${published ? html` · published ${date(published)}` : ""}</p>
<p class="upstream-note" role="note">This package comes from the upstream registry: this registry keeps a copy and serves it, and it cannot be published to, tagged or changed here.${warning ? html` Upstream could not be reached just now; this is the copy last fetched.` : ""}</p>
${description ? html`<p class="description">${description}</p>` : ""}
${deprecated ? html`<p class="deprecated" role="note"><strong>Deprecated:</strong> ${deprecated}</p>` : ""}
</header>
<div class="columns">
<div class="primary">
<section aria-labelledby="readme-title" class="readme-section">
<h2 id="readme-title">Readme</h2>
${readmeHtml === null ? html`<p class="empty">Upstream keeps no README for this package.</p>` : html`<div class="readme">${trusted(readmeHtml.replaceAll(VERSION_FILES, literal(`${packagePath(pkg.name)}/`)))}</div>`}
</section>
<section aria-labelledby="versions-title">
<h2 id="versions-title">Versions (${versions.length})</h2>
<div class="scroll"><table>
<thead><tr><th scope="col">Version</th><th scope="col">Published</th><th scope="col">Tags</th></tr></thead>
<tbody>${newestFirst.map(
		(version) => html`<tr${version === chosen ? html` aria-current="page"` : ""}>
<th scope="row"><a href="${packagePath(pkg.name)}/v/${encodeURIComponent(version)}">${version}</a></th>
<td>${text(packument.time?.[version]) ? html`<time datetime="${text(packument.time?.[version])}">${date(text(packument.time?.[version]))}</time>` : ""}</td>
<td>${tagsOf(version).join(", ")}</td>
</tr>`,
	)}</tbody>
</table></div>
</section>
</div>
<aside class="facts" aria-label="About this package">
<section aria-labelledby="install-title">
<h2 id="install-title">Install</h2>
${installCommands(installSpec, registry)}
</section>
<dl class="facts-list">
<dt>Version</dt><dd>${chosen}</dd>
<dt>License</dt><dd>${text(manifest.license) || text(packument.license) || "none"}</dd>
<dt>Source</dt><dd>the upstream registry</dd>
</dl>
</aside>
</div>
</article>`;
	return layout({ title: chosen === tags.latest ? pkg.name : `${pkg.name}@${chosen}`, body });
}

export type { UpstreamPackument };
