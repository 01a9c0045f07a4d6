// The pages' one way to write HTML: a tagged template that escapes every interpolated value unless
// it is already Html (made by this template, or by `trusted` for HTML that was sanitised before it
// was stored: rendered READMEs, drawn charts). Arrays are joined; null, undefined and false vanish.

export class Html {
	constructor(readonly value: string) {}

	toString(): string {
		return this.value;
	}
}

type Value = Html | string | number | null | undefined | false | Value[];

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
	let out = strings[0] ?? "";
	values.forEach((value, i) => {
		out += render(value) + (strings[i + 1] ?? "");
	});
	return new Html(out);
}

function render(value: Value): string {
	if (value instanceof Html) return value.value;
	if (Array.isArray(value)) return value.map(render).join("");
	if (value === null || value === undefined || value === false) return "";
	return escapeHtml(String(value));
}

/** HTML this registry made safe before it was stored (a sanitised README, an SVG it drew). */
export function trusted(markup: string): Html {
	return new Html(markup);
}

export function escapeHtml(text: string): string {
	return text
		.replaceAll("&", "&amp;")
		.replaceAll("<", "&lt;")
		.replaceAll(">", "&gt;")
		.replaceAll('"', "&quot;")
		.replaceAll("'", "&#39;");
}
