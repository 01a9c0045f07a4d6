import { backupObject } from "../../durable-objects/stubs";
import type { AuditEntry } from "../../schema/audit";
import type { PackageSummary } from "../../schema/search/contract";
import { authStore } from "../auth/auth-store";
import { assertAdmin } from "../auth/permissions";
import { searchIndexStub } from "../objects";
import { metricsSnapshot } from "../read-tier/metrics";
import { ADMIN_PAGES } from "./admin-pages";
import { backupSummary } from "./backup-summary";
import { barChart, dailyBars } from "./charts";
import { type Html, html } from "./html";
import { orgPath } from "./org-page";
import { date, packagePath } from "./package-page";
import { layout, pageResponse, webPage } from "./page";

// GET /-/dashboard (admins): what the registry holds and how it is used. The registry-wide figures
// come from the search index, which already holds every package's latest state and is told each
// package's recent daily downloads with its weekly total (so they are as fresh as search's
// popularity, within SEARCH_DOWNLOADS_PUSH_SECONDS); failed authentications and refused writes
// from the AuthStoreDO's registry audit log; the read tier's figures from this isolate's
// counters; the last backup from the BackupDO; the orgs, each linking to its page (the per-org view).
// Nothing here is on the path of an install: five calls, for admins only, never cached.

const FAILED_AUTHENTICATIONS = ["auth.failed", "login.failed", "password.failed", "otp.failed"];

export const dashboardPage = webPage({ auth: "viewer", cache: "personal" }, async ({ request, env, who }) => {
	assertAdmin(who.principal);
	const today = new Date().toISOString().slice(0, 10);
	const store = authStore(env);
	const [overview, failures, refusals, backups, orgs] = await Promise.all([
		searchIndexStub(env).overview(today),
		store.auditLog({ actions: FAILED_AUTHENTICATIONS, limit: 20 }),
		store.auditLog({ actions: ["write.refused"], limit: 20 }),
		backupObject(env).list(),
		store.listOrgs(),
	]);
	const metrics = metricsSnapshot();
	let served = 0;
	let fromTier = 0;
	for (const counts of Object.values(metrics.reads)) {
		served += counts.hit + counts.miss + counts.revalidated + counts.bypass;
		fromTier += counts.hit + counts.revalidated;
	}
	const body = html`<h1>Dashboard</h1>
<p><a href="/-/dashboard/operations">Operations: registry-wide performance, security and alerts</a></p>
<p>Administration: ${ADMIN_PAGES.map(([path, label], i) => html`${i > 0 ? " · " : ""}<a href="${path}">${label}</a>`)}</p>
<section aria-labelledby="totals-title">
<h2 id="totals-title">Totals</h2>
<dl class="totals">
<div><dt>Packages</dt><dd>${overview.packages.toLocaleString("en-US")}</dd></div>
<div><dt>Versions</dt><dd>${overview.versions.toLocaleString("en-US")}</dd></div>
<div><dt>Downloads, last 7 days</dt><dd>${overview.weeklyDownloads.toLocaleString("en-US")}</dd></div>
</dl>
${barChart({ id: "daily-downloads", title: "Downloads per day, last 30 days", bars: dailyBars(overview.downloadsPerDay), unit: "downloads" })}
</section>
<div class="columns even">
${summaryTable("top", "Top packages by weekly downloads", overview.top)}
${summaryTable("recent", "Recent publishes", overview.recent)}
</div>
<section aria-labelledby="tier-title">
<h2 id="tier-title">Read tier (this isolate, since ${metrics.since})</h2>
<dl class="totals">
<div><dt>Reads</dt><dd>${served.toLocaleString("en-US")}</dd></div>
<div><dt>Hit rate</dt><dd>${served === 0 ? "–" : `${((fromTier / served) * 100).toFixed(1)} %`}</dd></div>
${Object.entries(metrics.objectCalls).map(([kind, calls]) => html`<div><dt>Calls to ${kind} objects</dt><dd>${calls.toLocaleString("en-US")}</dd></div>`)}
<div><dt>Download batches sent</dt><dd>${metrics.downloadBatches}</dd></div>
</dl>
<div class="scroll"><table>
<caption>Reads by route and outcome</caption>
<thead><tr><th scope="col">Route</th><th scope="col">Hit</th><th scope="col">Revalidated</th><th scope="col">Miss</th><th scope="col">Bypass</th></tr></thead>
<tbody>${Object.entries(metrics.reads).map(
		([route, c]) =>
			html`<tr><th scope="row">${route}</th><td>${c.hit}</td><td>${c.revalidated}</td><td>${c.miss}</td><td>${c.bypass}</td></tr>`,
	)}</tbody>
</table></div>
</section>
${backupSummary(backups)}
<section aria-labelledby="orgs-title">
<h2 id="orgs-title">Orgs</h2>
${orgs.length === 0 ? html`<p class="empty">None yet.</p>` : html`<ul class="orgs">${orgs.map((org) => html`<li><a href="${orgPath(org)}">@${org}</a></li>`)}</ul>`}
</section>
${auditTable("failures", "Recent failed authentications", failures)}
${auditTable("refusals", "Recent refused writes", refusals)}`;
	return pageResponse(request, who, layout({ title: "Dashboard", body }));
});

function summaryTable(id: string, title: string, rows: PackageSummary[]): Html {
	return html`<section aria-labelledby="${id}-title">
<h2 id="${id}-title">${title}</h2>
${
	rows.length === 0
		? html`<p class="empty">None yet.</p>`
		: html`<div class="scroll"><table>
<thead><tr><th scope="col">Package</th><th scope="col">Version</th><th scope="col">Weekly downloads</th><th scope="col">Published</th></tr></thead>
<tbody>${rows.map(
				(row) =>
					html`<tr><th scope="row"><a href="${packagePath(row.name)}">${row.name}</a></th><td>${row.version}</td><td>${row.weeklyDownloads.toLocaleString("en-US")}</td><td>${date(row.publishedAt)}</td></tr>`,
			)}</tbody>
</table></div>`
}
</section>`;
}

function auditTable(id: string, title: string, rows: AuditEntry[]): Html {
	return html`<section aria-labelledby="${id}-title">
<h2 id="${id}-title">${title}</h2>
${
	rows.length === 0
		? html`<p class="empty">None.</p>`
		: html`<div class="scroll"><table>
<thead><tr><th scope="col">When</th><th scope="col">Action</th><th scope="col">Who</th><th scope="col">From</th><th scope="col">Target</th><th scope="col">Detail</th></tr></thead>
<tbody>${rows.map(
				(row) =>
					html`<tr><td><time datetime="${row.at}">${row.at.slice(0, 19).replace("T", " ")}</time></td><td>${row.action}</td><td>${row.actor}${row.prefix ? ` (${row.prefix})` : ""}</td><td>${row.ip ?? ""}</td><td>${row.target ?? ""}</td><td>${detail(row.detail)}</td></tr>`,
			)}</tbody>
</table></div>`
}
</section>`;
}

/** An audit row's detail, short: what a refusal said, or the request it refused. */
function detail(text: string | null): string {
	if (text === null) return "";
	try {
		const value = JSON.parse(text) as Record<string, unknown>;
		const parts = [value.method, value.status, value.message ?? value.code].filter((p) => p !== undefined);
		return parts.length > 0 ? parts.map(String).join(" ") : text.slice(0, 200);
	} catch {
		return text.slice(0, 200);
	}
}
