import { metricsObject } from "../../durable-objects/stubs";
import type { RouteSummary, SeriesPoint, WindowFigures } from "../../schema/metrics/contract";
import { assertAdmin } from "../auth/permissions";
import { barChart } from "./charts";
import { type Html, html } from "./html";
import { layout, pageResponse, webPage } from "./page";

// GET /-/dashboard/operations (admins): the registry-wide figures the MetricsDO sums from every
// isolate. Performance (requests, p95 latency and errors per minute over the last hour; per route:
// counts, hit rate, error rates, percentiles; object calls per 1,000 reads), Security (failed
// authentications per minute and by kind, refusals by code) and Alerts (firing and recent). Two
// calls to one object, for admins only, never cached.

const SERIES_MINUTES = 60;

export const operationsPage = webPage({ auth: "viewer", cache: "personal" }, async ({ request, env, who }) => {
	assertAdmin(who.principal);
	const metrics = metricsObject(env);
	const [summary, series] = await Promise.all([metrics.summary(), metrics.series(SERIES_MINUTES)]);
	const hour = summary.windows["1h"];
	const day = summary.windows["1d"];
	const firing = summary.alerts.filter((a) => a.status === "firing");
	const body = html`<h1>Operations</h1>
<p>Every isolate's figures, summed per minute (as of ${summary.at.slice(0, 19).replace("T", " ")} UTC). <a href="/-/dashboard">Overview</a></p>
<section aria-labelledby="alerts-title">
<h2 id="alerts-title">Alerts</h2>
${firing.length === 0 ? html`<p class="empty">None firing.</p>` : html`<p><strong>${firing.length} firing.</strong></p>`}
${
	summary.alerts.length === 0
		? html``
		: html`<div class="scroll"><table>
<thead><tr><th scope="col">Alert</th><th scope="col">Status</th><th scope="col">Since</th><th scope="col">Resolved</th><th scope="col">What</th></tr></thead>
<tbody>${summary.alerts.map(
				(a) =>
					html`<tr><th scope="row">${a.name}</th><td>${a.status}</td><td>${a.startedAt.slice(0, 19).replace("T", " ")}</td><td>${a.resolvedAt?.slice(0, 19).replace("T", " ") ?? ""}</td><td>${a.text}</td></tr>`,
			)}</tbody>
</table></div>`
}
</section>
<section aria-labelledby="performance-title">
<h2 id="performance-title">Performance</h2>
${totals(hour, "last hour")}
${chart("requests", "Requests per minute, last hour", series, (p) => p.requests, "requests")}
${chart("p95", "p95 latency per minute (ms), last hour", series, (p) => p.p95 ?? 0, "ms")}
${chart("errors", "5xx per 1,000 requests per minute, last hour", series, (p) => Math.round((p.errorRate ?? 0) * 1000), "per 1,000")}
${routeTable("routes-hour", "Routes, last hour", hour)}
${routeTable("routes-day", "Routes, last day", day)}
</section>
<section aria-labelledby="security-title">
<h2 id="security-title">Security</h2>
${chart("auth-failed", "Failed authentications per minute, last hour", series, (p) => p.authFailed, "failures")}
${chart("publish-refused", "Refused publishes and uploads per minute, last hour", series, (p) => p.publishRefused, "refusals")}
${counterTable("auth", "Failed authentications by kind, last day", day.counters, "auth.failed.kind.")}
${counterTable("auth-ranges", "Failed authentications by address range, last day", day.counters, "auth.failed.from.")}
${counterTable("auth-users", "Failed sign-ins by user name, last day", day.counters, "auth.failed.user.")}
${counterTable("refused-writers", "Refused writes by token or user, last day", day.counters, "write.refused.by.")}
${refusalTable(day)}
<div class="scroll"><table id="new-ranges">
<caption>Tokens that wrote from an address range they had never written from</caption>
<thead><tr><th scope="col">When</th><th scope="col">Token</th><th scope="col">Range</th></tr></thead>
<tbody>${
		summary.security.newTokenRanges.length === 0
			? html`<tr><td colspan="3">None.</td></tr>`
			: summary.security.newTokenRanges.map(
					(r) =>
						html`<tr><td>${r.at.slice(0, 19).replace("T", " ")}</td><th scope="row">${r.prefix}</th><td>${r.range}</td></tr>`,
				)
	}</tbody>
</table></div>
</section>`;
	return pageResponse(request, who, layout({ title: "Operations", body }));
});

function chart(
	id: string,
	title: string,
	series: SeriesPoint[],
	value: (p: SeriesPoint) => number,
	unit: string,
): Html {
	return barChart({ id, title, unit, bars: series.map((p) => ({ label: p.at.slice(11, 16), value: value(p) })) });
}

const percent = (n: number | null) => (n === null ? "–" : `${(n * 100).toFixed(1)} %`);
const ms = (n: number | null) => (n === null ? "–" : `${n} ms`);

function totals(window: WindowFigures, label: string): Html {
	const all = window.all;
	return html`<dl class="totals">
<div><dt>Requests, ${label}</dt><dd>${all.requests.toLocaleString("en-US")}</dd></div>
<div><dt>Hit rate</dt><dd>${percent(all.hitRate)}</dd></div>
<div><dt>p50 / p95 / p99</dt><dd>${ms(all.p50)} / ${ms(all.p95)} / ${ms(all.p99)}</dd></div>
<div><dt>4xx / 5xx</dt><dd>${percent(all.clientErrorRate)} / ${percent(all.serverErrorRate)}</dd></div>
<div><dt>Object calls per 1,000 reads</dt><dd>${window.objectCallsPer1000Reads === null ? "–" : window.objectCallsPer1000Reads.toFixed(1)}</dd></div>
</dl>`;
}

function routeTable(id: string, title: string, window: WindowFigures): Html {
	const rows = Object.entries(window.routes).sort((a, b) => b[1].requests - a[1].requests);
	return html`<div class="scroll"><table id="${id}">
<caption>${title}</caption>
<thead><tr><th scope="col">Route</th><th scope="col">Requests</th><th scope="col">Hit rate</th><th scope="col">4xx</th><th scope="col">5xx</th><th scope="col">p50</th><th scope="col">p95</th><th scope="col">p99</th></tr></thead>
<tbody>${rows.map(([route, r]: [string, RouteSummary]) => html`<tr><th scope="row">${route}</th><td>${r.requests}</td><td>${percent(r.hitRate)}</td><td>${percent(r.clientErrorRate)}</td><td>${percent(r.serverErrorRate)}</td><td>${ms(r.p50)}</td><td>${ms(r.p95)}</td><td>${ms(r.p99)}</td></tr>`)}</tbody>
</table></div>`;
}

function counterTable(id: string, title: string, counters: Record<string, number>, prefix: string): Html {
	const rows = Object.entries(counters)
		.filter(([name]) => name.startsWith(prefix))
		.sort((a, b) => b[1] - a[1])
		.slice(0, 20);
	return html`<div class="scroll"><table id="${id}">
<caption>${title}</caption>
<thead><tr><th scope="col">Kind</th><th scope="col">Count</th></tr></thead>
<tbody>${rows.length === 0 ? html`<tr><td colspan="2">None.</td></tr>` : rows.map(([name, n]) => html`<tr><th scope="row">${name.slice(prefix.length)}</th><td>${n}</td></tr>`)}</tbody>
</table></div>`;
}

function refusalTable(window: WindowFigures): Html {
	const rows = Object.entries(window.routes).flatMap(([route, r]) =>
		Object.entries(r.refused).map(([code, n]) => ({ route, code, n })),
	);
	rows.sort((a, b) => b.n - a.n);
	return html`<div class="scroll"><table id="refusals">
<caption>Refusals by route and reason, last day</caption>
<thead><tr><th scope="col">Route</th><th scope="col">Reason</th><th scope="col">Count</th></tr></thead>
<tbody>${rows.length === 0 ? html`<tr><td colspan="3">None.</td></tr>` : rows.slice(0, 50).map((r) => html`<tr><th scope="row">${r.route}</th><td>${r.code}</td><td>${r.n}</td></tr>`)}</tbody>
</table></div>`;
}
