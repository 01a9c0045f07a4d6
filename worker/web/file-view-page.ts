import type { BundledFile } from "../../schema/package/contract";
import { contentTypeFor } from "../files/content-types";
import { fileUrl, versionBaseUri } from "../files/urls";
import { settleRead } from "../guards";
import { decodeParam } from "../http";
import { packageStub } from "../objects";
import { packageNameFromParams } from "../params";
import { readBytes } from "../read-tier/bytes";
import { refused } from "../refusals";
import { escapeHtml, type Html, html, trusted } from "./html";
import { packagePath, size } from "./package-page";
import { layout, pageResponse, webPage } from "./page";

// GET /package/{name}/v/{version}/files/{path}: one file of a version, shown on a page of the
// registry (#24.9). Text is escaped into a <pre> (line numbers from CSS counters, so copying
// takes the text alone); images are <img> elements loading the file's immutable URL, SVG
// included (an SVG as an image runs no script and loads nothing), never inline markup; binary
// files and files over 1 MB are a download link. The page's CSP is every page's (page.ts): no
// inline script or style, so nothing a file holds can run here. Control characters that would
// hide or reorder text (NUL, the bidirectional overrides and isolates of "Trojan Source") are
// shown as their code points. Not kept in the read tier: a page asked for rarely; the bytes
// are (read-tier/bytes.ts).

/** Larger files are offered as downloads: the page would be too large to read. */
export const SHOWN_BYTES = 1024 * 1024;
/** Past this many lines, no per-line numbers (each costs a span): the text stays. */
const NUMBERED_LINES = 20_000;

const IMAGES = new Set(["png", "jpg", "jpeg", "gif", "webp", "svg"]);

export const fileViewPage = webPage({ auth: "viewer", cache: "personal" }, async ({ request, env, ctx, who }) => {
	const pkg = packageNameFromParams(request.params);
	const version = decodeParam(request.params.version);
	const path = filePath(request.params.path);
	const found = settleRead(who.principal, pkg, await packageStub(env, pkg.name).file(version, path));
	const { file, key, access } = found;
	const rawUrl = fileUrl(await versionBaseUri(request, env, pkg.name, version, access), file.path);
	const type = contentTypeFor(file.path).split(";")[0] ?? "";
	const extension = file.path.slice(file.path.lastIndexOf(".") + 1).toLowerCase();
	const versionPath = `${packagePath(pkg.name)}/v/${encodeURIComponent(version)}`;

	let content: Html;
	if (IMAGES.has(extension)) {
		content = html`<p class="file-image"><img src="${rawUrl}" alt="${file.path}"></p>`;
	} else if (file.size > SHOWN_BYTES || binaryType(type)) {
		content = download(rawUrl, file, file.size > SHOWN_BYTES ? "larger than 1 MB" : "not text");
	} else {
		const text = await readText(env, ctx, key, file, access === "public");
		content = text === null ? download(rawUrl, file, "not text (not UTF-8)") : textView(text);
	}
	const title = `${file.path} · ${pkg.name}@${version}`;
	const body = html`<article aria-labelledby="file-title" class="file-view">
<h1 id="file-title"><a href="${versionPath}">${pkg.name}@${version}</a> / <a href="${versionPath}/files">files</a> / <span class="path">${file.path}</span></h1>
<p class="meta">${size(file.size)} · ${type} · <a href="${rawUrl}" class="raw">Raw</a></p>
${content}
</article>`;
	return pageResponse(request, who, layout({ title, body }));
});

/** The path part of the URL as the stored file's path: each segment decoded, none empty, `.` or `..`. */
function filePath(raw: string | undefined): string {
	const segments = (raw ?? "").split("/").map((segment) => decodeParam(segment));
	if (segments.some((s) => s === "" || s === "." || s === ".." || s.includes("/") || s.includes("\\"))) {
		throw refused.hidden();
	}
	return segments.join("/");
}

/** Types that are never text: fonts, WebAssembly, images not shown as such. */
function binaryType(type: string): boolean {
	return type.startsWith("font/") || type.startsWith("image/") || type === "application/wasm";
}

/** The file as UTF-8 text; null when it is not (a binary file with an unknown extension). */
async function readText(
	env: Env,
	ctx: ExecutionContext,
	key: string,
	file: BundledFile,
	shared: boolean,
): Promise<string | null> {
	if (file.size === 0) return "";
	const body = await readBytes(env, ctx, key, file.size, {
		shared,
		range: { offset: file.offset, length: file.size },
	});
	if (body === null) throw refused.hidden();
	const bytes = body instanceof Uint8Array ? body : new Uint8Array(await new Response(body).arrayBuffer());
	try {
		return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
	} catch {
		return null;
	}
}

function download(rawUrl: string, file: BundledFile, why: string): Html {
	const name = file.path.slice(file.path.lastIndexOf("/") + 1);
	return html`<p class="file-download">This file is ${why}: <a href="${rawUrl}" download="${name}">download ${name}</a> (${size(file.size)}).</p>`;
}

/**
 * Characters that would hide text or reorder how it reads: C0 controls but tab, line feed and
 * carriage return; DEL; the bidirectional marks, embeddings, overrides and isolates.
 */
function hides(code: number): boolean {
	return (
		code <= 0x08 ||
		code === 0x0b ||
		code === 0x0c ||
		(code >= 0x0e && code <= 0x1f) ||
		code === 0x7f ||
		code === 0x061c ||
		code === 0x200e ||
		code === 0x200f ||
		(code >= 0x202a && code <= 0x202e) ||
		(code >= 0x2066 && code <= 0x2069)
	);
}

function textView(text: string): Html {
	const lines = text.split(/\r\n|\n|\r/);
	if (lines.length > 1 && lines.at(-1) === "") lines.pop();
	let hidden = 0;
	// Escaped; each hidden character as its code point, which escaping would leave as it is.
	const shown = (line: string) => {
		let out = "";
		for (const c of escapeHtml(line)) {
			const code = c.codePointAt(0) ?? 0;
			if (!hides(code)) {
				out += c;
				continue;
			}
			hidden += 1;
			out += `<span class="ctl">U+${code.toString(16).toUpperCase().padStart(4, "0")}</span>`;
		}
		return out;
	};
	const numbered = lines.length <= NUMBERED_LINES;
	const code = numbered
		? lines.map((line) => `<span class="line">${shown(line)}</span>`).join("\n")
		: lines.map(shown).join("\n");
	return html`${hidden > 0 ? html`<p class="warning" role="note">This file contains ${hidden.toLocaleString("en-US")} invisible or bidirectional control character${hidden === 1 ? "" : "s"}, shown as their code points.</p>` : ""}
<p class="note">${lines.length.toLocaleString("en-US")} line${lines.length === 1 ? "" : "s"}</p>
<div class="scroll file-text"><pre${numbered ? html` class="numbered"` : ""} dir="ltr"><code>${trusted(code)}</code></pre></div>`;
}
