// Content-Type by file extension for files served from package versions. HTML, XHTML and XML are
// served as text so that a package cannot run script as a page of the registry's origin (and
// serve.ts makes them, and SVG, downloads under a sandboxing CSP).

const TYPES: Record<string, string> = {
	js: "text/javascript; charset=utf-8",
	mjs: "text/javascript; charset=utf-8",
	cjs: "text/javascript; charset=utf-8",
	css: "text/css; charset=utf-8",
	json: "application/json; charset=utf-8",
	map: "application/json; charset=utf-8",
	webmanifest: "application/manifest+json; charset=utf-8",
	wasm: "application/wasm",
	svg: "image/svg+xml",
	png: "image/png",
	jpg: "image/jpeg",
	jpeg: "image/jpeg",
	gif: "image/gif",
	webp: "image/webp",
	avif: "image/avif",
	ico: "image/x-icon",
	woff: "font/woff",
	woff2: "font/woff2",
	ttf: "font/ttf",
	otf: "font/otf",
	txt: "text/plain; charset=utf-8",
	md: "text/markdown; charset=utf-8",
	html: "text/plain; charset=utf-8",
	htm: "text/plain; charset=utf-8",
	ts: "text/plain; charset=utf-8",
	xml: "text/plain; charset=utf-8",
	xhtml: "text/plain; charset=utf-8",
	xsl: "text/plain; charset=utf-8",
	xslt: "text/plain; charset=utf-8",
};

export function contentTypeFor(path: string): string {
	const dot = path.lastIndexOf(".");
	const extension = dot === -1 ? "" : path.slice(dot + 1).toLowerCase();
	return TYPES[extension] ?? "application/octet-stream";
}
