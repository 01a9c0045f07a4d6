import type { DayCount } from "../../schema/package/contract";
import { type Html, html } from "./html";

// Charts drawn on the server as SVG: no script, no inline style (colours come from the site's
// stylesheet through classes), readable by screen readers through the title, the description and
// each bar's own title, and scaled to the width of a phone by its viewBox. The axis labels are
// HTML beside the drawing, not SVG text, which shrinks with it (to 4 px in the package page's
// column): as text of the page they stay at least 11 px wide at any width (#24.9).

export type Bar = { label: string; value: number };

const WIDTH = 640;
const HEIGHT = 160;

export function barChart(options: { id: string; title: string; bars: Bar[]; unit: string }): Html {
	const { id, title, bars, unit } = options;
	const max = Math.max(1, ...bars.map((b) => b.value));
	const slot = WIDTH / Math.max(1, bars.length);
	const gap = Math.min(4, slot / 4);
	const total = bars.reduce((sum, b) => sum + b.value, 0);
	const first = bars[0]?.label ?? "";
	const last = bars.at(-1)?.label ?? "";
	const description = `${total.toLocaleString("en-US")} ${unit} from ${first} to ${last}; the most in one bar ${max.toLocaleString("en-US")}.`;
	return html`<figure class="chart">
<div class="chart-scale" aria-hidden="true"><span>${compact(max)}</span><span>0</span></div>
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="${id}-title ${id}-desc" preserveAspectRatio="none">
<title id="${id}-title">${title}</title>
<desc id="${id}-desc">${description}</desc>
<line class="axis" x1="0" y1="${HEIGHT}" x2="${WIDTH}" y2="${HEIGHT}" stroke="currentColor" stroke-width="1"/>
${bars.map((bar, i) => {
	const h = Math.round((bar.value / max) * (HEIGHT - 8));
	const x = i * slot + gap / 2;
	return html`<rect class="bar" x="${x.toFixed(1)}" y="${HEIGHT - h}" width="${Math.max(1, slot - gap).toFixed(1)}" height="${h}"><title>${bar.label}: ${bar.value.toLocaleString("en-US")} ${unit}</title></rect>`;
})}
</svg>
<div class="chart-axis" aria-hidden="true"><span>${first}</span><span>${last}</span></div>
<figcaption>${title}</figcaption>
</figure>`;
}

/** Weekly totals of the `weeks` weeks ending today (each labelled by the day it starts). */
export function weeklyBars(perDay: DayCount[], weeks: number, today: string): Bar[] {
	const counts = new Map(perDay.map((d) => [d.day, d.downloads]));
	const end = Date.parse(`${today}T00:00:00Z`);
	return Array.from({ length: weeks }, (_, w) => {
		const start = end - ((weeks - w) * 7 - 1) * 86_400_000;
		let value = 0;
		for (let d = 0; d < 7; d++) value += counts.get(new Date(start + d * 86_400_000).toISOString().slice(0, 10)) ?? 0;
		return { label: new Date(start).toISOString().slice(0, 10), value };
	});
}

export function dailyBars(perDay: DayCount[]): Bar[] {
	return perDay.map((d) => ({ label: d.day, value: d.downloads }));
}

function compact(value: number): string {
	if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(1)}M`;
	if (value >= 10_000) return `${Math.round(value / 1000)}k`;
	return String(value);
}
