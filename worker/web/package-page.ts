import { config } from "../../schema/config";
import type { PackageName } from "../../schema/names";
import type { PackagePage, PageChannel, Readable } from "../../schema/package/contract";
import { upstreamMayServe } from "../../schema/upstream";
import { can, mayRead } from "../auth/permissions";
import type { Principal } from "../auth/principal";
import { versionBaseUri } from "../files/urls";
import { settleRead } from "../guards";
import { decodeParam, publicBaseUrl, urlOf } from "../http";
import { literal } from "../literal";
import { packageStub, searchIndexStub } from "../objects";
import { packageNameFromParams } from "../params";
import { callerClass } from "../read-tier/refusals-kept";
import { throughReadTier } from "../read-tier/tier";
import { readable } from "../search/query";
import { sees } from "../search/search";
import { barChart, weeklyBars } from "./charts";
import { DEPENDENTS_SLOT, withDependents } from "./dependents-section";
import { type Html, html, trusted } from "./html";
import { installSection } from "./install-lines";
import { VERSION_FILES } from "./markdown";
import { layout, pageHeaders, pageResponse, webPage } from "./page";
import { provenanceLine } from "./provenance";
import { stagedSection } from "./staged-section";
import { renderUpstreamPage, type UpstreamPackument } from "./upstream-page";

// GET /package/{name} and /package/{name}/v/{version}: a package as people read it. The page is
// built from one answer of the package's object (its README rendered at publish) and, when the
// version has dependencies, one question to the index (which of them live here, to link them).
// It goes through the read tier like the packument: a public package's page, as anyone without
// grants sees it, is shared; anyone else's stays in this isolate; every request is authorised
// before anything is served. Publishers see the channel forms (worker/web/channel-forms.ts).

export const WEEKS_CHARTED = 26;

export const packagePage = webPage({ auth: "viewer", cache: "personal" }, async ({ request, env, ctx, who }) => {
	const pkg = packageNameFromParams(request.params);
	const spec = request.params.version === undefined ? null : decodeParam(request.params.version);
	const { principal } = who;
	const view = await sees(principal);
	const url = urlOf(request);
	const base = publicBaseUrl(request, env);
	const answer = await throughReadTier({
		request,
		env,
		ctx,
		route: "package page",
		owner: pkg.name,
		key: `${base}${url.pathname}#page:${view}`,
		caller: callerClass(principal),
		shareable: (access) => access === "public" && view === "public",
		admits: (access) => mayRead(principal, pkg, access ?? "restricted"),
		produce: async () => {
			const stub = packageStub(env, pkg.name);
			// What the caller may read goes with the question: a hidden package is refused unbuilt (#22.9).
			const mayReadRestricted = can(principal, pkg, "read");
			const found = await stub.page(spec, mayReadRestricted);
			if (!found.ok && found.code === "notFound" && upstreamMayServe(config(env), pkg.scope)) {
				const upstream = await upstreamPackagePage(request, env, stub, pkg, spec, mayReadRestricted);
				if (upstream) return upstream;
			}
			const value = settleRead(principal, pkg, found);
			const body = await renderPage(request, env, principal, pkg, value);
			return { response: new Response(String(body), { headers: pageHeaders() }), access: value.access, rev: value.rev };
		},
	});
	// "Used by" changes with other packages' writes: filled per request, kept apart (dependents-section.ts).
	const text = await withDependents(await answer.text(), { request, env, ctx, principal, name: pkg.name });
	return pageResponse(request, who, text, {
		headers: { "x-registry-cache": answer.headers.get("x-registry-cache") ?? "bypass" },
	});
});

async function renderPage(
	request: Request,
	env: Env,
	principal: Principal,
	pkg: PackageName,
	page: Readable<PackagePage>,
): Promise<Html> {
	const v = page.selected;
	const dependencyNames = [
		...Object.keys(v.dependencies),
		...Object.keys(v.peerDependencies),
		...Object.keys(v.optionalDependencies),
		...Object.keys(v.devDependencies),
	];
	const [known, baseUri] = await Promise.all([
		dependencyNames.length === 0
			? Promise.resolve([])
			: searchIndexStub(env).known(dependencyNames, readable(principal)),
		versionBaseUri(request, env, pkg.name, v.version, page.access),
	]);
	const registry = `${publicBaseUrl(request, env)}/`;
	const latest = page.distTags.latest;
	const spec = v.version === latest ? pkg.name : `${pkg.name}@${v.version}`;
	const readmeHtml = v.readmeHtml ?? (v.readme === null ? null : (await import("./markdown")).renderReadme(v.readme));
	const weekly = weeklyBars(page.downloads, WEEKS_CHARTED, new Date().toISOString().slice(0, 10));
	const lastWeek = weekly.at(-1)?.value ?? 0;
	const publisher = can(principal, pkg, "publish");
	const staged = publisher ? await packageStub(env, pkg.name).stagedVersions() : [];
	const body = html`<article class="package" aria-labelledby="package-name">
<header class="package-head">
<h1 id="package-name">${pkg.name}</h1>
<p class="meta"><span class="version">${v.version}</span>${v.version === latest ? html` <span class="tag">latest</span>` : ""}
${page.access === "restricted" ? html` <span class="tag restricted">restricted</span>` : ""}
· published ${date(v.publishedAt)}</p>
${v.description ? html`<p class="description">${v.description}</p>` : ""}
${v.deprecated ? html`<p class="deprecated" role="note"><strong>Deprecated:</strong> ${v.deprecated}</p>` : ""}
${v.keywords.length > 0 ? html`<ul class="keywords" aria-label="Keywords">${v.keywords.map((k) => html`<li><a href="/search?q=${encodeURIComponent(`keywords:${k}`)}">${k}</a></li>`)}</ul>` : ""}
</header>
<div class="columns">
<div class="primary">
<section aria-labelledby="readme-title" class="readme-section">
<h2 id="readme-title">Readme</h2>
${readmeHtml === null ? html`<p class="empty">This version has no README.</p>` : html`<div class="readme">${trusted(readmeHtml.replaceAll(VERSION_FILES, literal(`${baseUri}/`)))}</div>`}
</section>
${channelsSection(pkg, page.channels, page.versions, publisher, principal)}
${stagedSection(packagePath(pkg.name), pkg, staged, principal)}
${versionsSection(pkg, page)}
${dependencySection("Dependencies", "dependencies", v.dependencies, known)}
${dependencySection("Peer dependencies", "peer-dependencies", v.peerDependencies, known)}
${dependencySection("Optional dependencies", "optional-dependencies", v.optionalDependencies, known)}
${dependencySection("Dev dependencies", "dev-dependencies", v.devDependencies, known)}
${trusted(DEPENDENTS_SLOT)}
</div>
<aside class="facts" aria-label="About this package">
<section aria-labelledby="install-title">
<h2 id="install-title">Install</h2>
${installSection({
	name: pkg.name,
	spec,
	registry,
	restricted: page.access === "restricted",
	channels: page.channels.map((c) => c.channel).filter((c) => c !== "latest"),
})}
</section>
<section aria-labelledby="downloads-title">
<h2 id="downloads-title">Weekly downloads</h2>
<p class="figure">${lastWeek.toLocaleString("en-US")}</p>
<p class="note freshness">The last 7 days, counted as they come; lists and search may be a few minutes behind.</p>
${barChart({ id: "weekly-downloads", title: `Weekly downloads, last ${WEEKS_CHARTED} weeks`, bars: weekly, unit: "downloads" })}
</section>
<dl class="facts-list">
<dt>Version</dt><dd>${v.version}</dd>
<dt>License</dt><dd>${v.license ?? "none"}</dd>
<dt>Unpacked size</dt><dd>${size(v.unpackedSize)}</dd>
<dt>Files</dt><dd><a href="${packagePath(pkg.name)}/v/${encodeURIComponent(v.version)}/files">${v.fileCount.toLocaleString("en-US")}</a> (<a href="${baseUri}/package.json">package.json</a>)</dd>
${Object.entries(v.links).map(([kind, link]) => html`<dt>${LINK_NAMES[kind] ?? kind}</dt><dd>${/^https?:\/\//i.test(link) ? html`<a href="${link}" rel="nofollow ugc noopener">${link}</a>` : link}</dd>`)}
<dt>Published by</dt><dd>${v.publishedBy.name}${provenanceLine(v.publishedBy)}</dd>
<dt>Maintainers</dt><dd><ul class="plain">${page.maintainers.map((m) => html`<li>${m.name}</li>`)}</ul></dd>
<dt>Integrity</dt><dd class="hash">${v.integrity}</dd>
</dl>
</aside>
</div>
</article>`;
	return layout({ title: v.version === latest ? pkg.name : `${pkg.name}@${v.version}`, body });
}

/** A name this registry does not hold, as the upstream registry has it; null: upstream has no such package or version. */
async function upstreamPackagePage(
	request: Request,
	env: Env,
	stub: ReturnType<typeof packageStub>,
	pkg: PackageName,
	spec: string | null,
	mayReadRestricted: boolean,
): Promise<{ response: Response; access: "public"; rev: null } | null> {
	const served = await stub.servedPackument(pkg.name, "full", null, mayReadRestricted);
	if (!served.ok || served.value.upstream === null || served.value.body === null) return null;
	const packument = JSON.parse(served.value.body) as UpstreamPackument;
	const body = await renderUpstreamPage(request, env, pkg, packument, spec, served.value.upstream.warning);
	// Upstream packages are readable by whoever may read this registry: kept like public pages.
	return body === null
		? null
		: { response: new Response(String(body), { headers: pageHeaders() }), access: "public", rev: null };
}

const LINK_NAMES: Record<string, string> = { homepage: "Homepage", repository: "Repository", bugs: "Issues" };

/** An upstream package's install lines: the whole client points here (the registry serves every name). */
export function installCommands(spec: string, registry: string): Html {
	const name = spec.lastIndexOf("@") > 0 ? spec.slice(0, spec.lastIndexOf("@")) : spec;
	return installSection({ name, spec, registry, restricted: false, channels: [], wholeRegistry: true });
}

function versionsSection(pkg: PackageName, page: PackagePage): Html {
	// An empty column costs a phone's width (#24.9): shown only when a version is deprecated.
	const deprecations = page.versions.some((row) => row.deprecated);
	return html`<section aria-labelledby="versions-title">
<h2 id="versions-title">Versions (${page.versions.length})</h2>
<div class="scroll"><table class="versions">
<thead><tr><th scope="col">Version</th><th scope="col">Published</th><th scope="col">Tags</th>${deprecations ? html`<th scope="col">Deprecated</th>` : ""}</tr></thead>
<tbody>${page.versions.map(
		(row) => html`<tr${row.version === page.selected.version ? html` aria-current="page"` : ""}>
<th scope="row"><a href="${packagePath(pkg.name)}/v/${encodeURIComponent(row.version)}">${row.version}</a></th>
<td><time datetime="${row.publishedAt}">${date(row.publishedAt)}</time></td>
<td>${row.tags.join(", ")}</td>
${deprecations ? html`<td>${row.deprecated ?? ""}</td>` : ""}
</tr>`,
	)}</tbody>
</table></div>
</section>`;
}

function dependencySection(title: string, id: string, deps: Record<string, string>, known: string[]): Html | string {
	const entries = Object.entries(deps);
	if (entries.length === 0) return "";
	return html`<section aria-labelledby="${id}-title">
<h2 id="${id}-title">${title} (${entries.length})</h2>
<ul class="dependencies">${entries.map(
		([name, range]) =>
			html`<li>${known.includes(name) ? html`<a href="${packagePath(name)}">${name}</a>` : name} <code>${range}</code></li>`,
	)}</ul>
</section>`;
}

function channelsSection(
	pkg: PackageName,
	channels: PageChannel[],
	versions: PackagePage["versions"],
	publisher: boolean,
	principal: Principal,
): Html {
	const otp = principal.kind === "developer" && principal.totp && !principal.bypassTwoFactor;
	const otpField = (id: string) =>
		otp
			? html`<label for="${id}">One-time code</label> <input id="${id}" name="otp" inputmode="numeric" autocomplete="one-time-code" required size="8">`
			: "";
	const action = (channel: string, what: string) =>
		`${packagePath(pkg.name)}/channels/${encodeURIComponent(channel)}/${what}`;
	// A package that only has `latest` is an ordinary npm package: no rollouts offered on it (#24.4).
	const loaderPackage = channels.some((c) => c.channel !== "latest");
	// Promote defaults to a move that does something: into stable (else the first), from another channel.
	const names = channels.map((c) => c.channel);
	const promoteTo = names.includes("stable") ? "stable" : names[0];
	const promoteFrom =
		PROMOTE_SOURCES.find((c) => c !== promoteTo && names.includes(c)) ?? names.find((c) => c !== promoteTo);
	return html`<section aria-labelledby="channels-title" id="channels">
<h2 id="channels-title">Channels</h2>
${channels.length === 0 ? html`<p class="empty">No channels.</p>` : ""}
${channels.map(
	(channel) => html`<section class="channel" aria-labelledby="channel-${channel.channel}">
<h3 id="channel-${channel.channel}">${channel.channel} <span class="arrow" aria-hidden="true">→</span> <a href="${packagePath(pkg.name)}/v/${encodeURIComponent(channel.version)}">${channel.version}</a></h3>
${rolloutPart(pkg, channel, versions, publisher && (channel.channel !== "latest" || loaderPackage), otpField, action)}
${
	publisher && channel.history.some((h) => h.rollbackTarget)
		? html`<form method="post" action="${action(channel.channel, "rollback")}" class="inline" data-moves="${channel.channel}" data-what="Roll ${channel.channel} back one step">
${otpField(`otp-rollback-${channel.channel}`)}
<button type="submit">Roll ${channel.channel} back one step</button>
</form>`
		: ""
}
<details${channel.history.length > 1 ? "" : html` hidden`}>
<summary>History (${channel.history.length})</summary>
<ol class="history">${channel.history.map(
		(entry) => html`<li${entry.current ? html` aria-current="true"` : ""}>
<span class="version">${entry.version}</span>${historyEvent(entry)} <time datetime="${entry.at}">${dateTime(entry.at)}</time> <span class="by">by ${publisher ? entry.by : withoutToken(entry.by)}</span>${entry.current ? html` <strong>current</strong>` : ""}
${
	publisher && entry.rollbackTarget
		? html`<form method="post" action="${action(channel.channel, "rollback")}" class="inline" data-moves="${channel.channel}" data-what="Roll ${channel.channel} back to ${entry.version}">
<input type="hidden" name="to" value="${entry.id}">
${otpField(`otp-rollback-${channel.channel}-${entry.id}`)}
<button type="submit">Roll back to ${entry.version}</button>
</form>`
		: ""
}
</li>`,
	)}</ol>
</details>
</section>`,
)}
${
	publisher && channels.length > 0
		? html`<form method="post" action="${packagePath(pkg.name)}/promote" class="promote" data-moves-field="to" data-what="Promote">
<fieldset>
<legend>Promote a channel</legend>
<label for="promote-from">Point</label>
<select id="promote-from" name="to">${channels.map((c) => html`<option${c.channel === promoteTo ? html` selected` : ""}>${c.channel}</option>`)}</select>
<label for="promote-to">at the version of</label>
<select id="promote-to" name="from">${channels.map((c) => html`<option${c.channel === promoteFrom ? html` selected` : ""}>${c.channel}</option>`)}</select>
${otpField("otp-promote")}
<button type="submit">Promote</button>
</fieldset>
</form>`
		: ""
}
</section>`;
}

/**
 * A channel's staged rollout: what share of the clients get which version, and for publishers the
 * forms that widen or narrow it, complete it or revert it, or start one.
 */
function rolloutPart(
	pkg: PackageName,
	channel: PageChannel,
	versions: PackagePage["versions"],
	publisher: boolean,
	otpField: (id: string) => Html | string,
	action: (channel: string, what: string) => string,
): Html | string {
	const { rollout } = channel;
	const id = (what: string) => `${what}-${channel.channel}`;
	if (rollout) {
		return html`<div class="rollout" role="status">
<p>Rolling out <a href="${packagePath(pkg.name)}/v/${encodeURIComponent(rollout.version)}">${rollout.version}</a> to <strong>${rollout.percent}%</strong> of clients since <time datetime="${rollout.startedAt}">${date(rollout.startedAt)}</time>; the others get ${channel.version}.</p>
${
	publisher
		? html`<form method="post" action="${action(channel.channel, "rollout")}" class="inline">
<label for="${id("percent")}">Share of clients (%)</label> <input id="${id("percent")}" name="percent" type="number" min="0" max="100" step="0.01" value="${rollout.percent}" required>
${otpField(id("otp-rollout-change"))}
<button type="submit">Change</button>
</form>
<form method="post" action="${action(channel.channel, "rollout/complete")}" class="inline" data-moves="${channel.channel}" data-what="Complete the rollout of ${rollout.version}">
${otpField(id("otp-rollout-complete"))}
<button type="submit">Complete: ${rollout.version} for everyone</button>
</form>
<form method="post" action="${action(channel.channel, "rollout/revert")}" class="inline">
${otpField(id("otp-rollout-revert"))}
<button type="submit">Revert: everyone on ${channel.version}</button>
</form>`
		: ""
}
</div>`;
	}
	const candidates = versions.filter((v) => v.version !== channel.version);
	if (!publisher || candidates.length === 0) return "";
	return html`<form method="post" action="${action(channel.channel, "rollout")}" class="inline rollout-start" data-moves="${channel.channel}" data-what="Start a rollout on ${channel.channel}">
<label for="${id("rollout-version")}">Roll out</label> <select id="${id("rollout-version")}" name="version">${candidates.map((v) => html`<option>${v.version}</option>`)}</select>
<label for="${id("rollout-percent")}">to (%)</label> <input id="${id("rollout-percent")}" name="percent" type="number" min="0" max="100" step="0.01" value="10" required>
${otpField(id("otp-rollout-start"))}
<button type="submit">Start rollout</button>
</form>`;
}

/** What a history entry beside the pointer's moves records: a rollout's start, change, completion or revert. */
function historyEvent(entry: PageChannel["history"][number]): Html | string {
	const percent = entry.detail ? `${entry.detail.percent}%` : "";
	switch (entry.event) {
		case "move":
			return "";
		case "upload":
			return html` <span class="event">followed an upload</span>`;
		case "promote":
			return html` <span class="event">promoted from ${String(entry.detail?.from ?? "?")}</span>`;
		case "rollback":
			return html` <span class="event">rolled back${entry.detail?.from ? html` from ${String(entry.detail.from)}` : ""}</span>`;
		case "rollout.start":
			return html` <span class="event">rollout started at ${percent}</span>`;
		case "rollout.change":
			return html` <span class="event">rollout changed from ${entry.detail?.from ?? "?"}% to ${percent}</span>`;
		case "rollout.complete":
			return html` <span class="event">rollout completed</span>`;
		case "rollout.revert":
			return html` <span class="event">rollout reverted</span>`;
	}
}

/** `alice (dev_a3f8e2c1)` → `alice`: token prefixes are for the package's publishers. */
function withoutToken(label: string): string {
	const paren = label.lastIndexOf(" (");
	return paren === -1 ? label : label.slice(0, paren);
}

/** `/package/@scope/name`: the scope's `@` stays as it is, so the scoped route matches. */
export function packagePath(name: string): string {
	const parts = name
		.split("/")
		.map((part) => (part.startsWith("@") ? `@${encodeURIComponent(part.slice(1))}` : encodeURIComponent(part)));
	return `/package/${parts.join("/")}`;
}

export function date(iso: string): string {
	return iso.slice(0, 10);
}

/** `2026-12-02 06:05 UTC`: history entries need the time of day in an incident (#24.4). */
export function dateTime(iso: string): string {
	return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** Where a promotion usually comes from, in order of preference. */
const PROMOTE_SOURCES = ["beta", "next", "canary", "latest"];

export function size(bytes: number): string {
	if (bytes >= 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
	if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} kB`;
	return `${bytes} B`;
}
