import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { PAGE_CSP } from "../worker/web/page";
import { ADMIN, BASE, createToken, publish, publisherFor, uniqueName } from "./helpers/registry";

// A file of a version on a page of its own (#24.9): text escaped into a <pre> whatever it holds,
// images as <img> of the immutable URL (SVG too, never inline), binary and large files as a
// download link, under every page's strict CSP; restricted packages' files only for readers.

const HOSTILE = [
	"<!doctype html><html><body>",
	"</code></pre><script>alert(1)</script><pre>",
	'<img src=x onerror="alert(2)">',
	"&lt;already escaped&gt; & \"quotes\" 'single'",
	"access = 'user'; \u202E// admin only \u2066\u2069",
	"nul:\u0000: bell:\u0007:",
	"</body></html>",
].join("\n");

const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0xff, 0xfe]);
const SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(3)</script></svg>';

async function publishFiles(name: string, token: string, access: "public" | "restricted" = "public") {
	const res = await publish(name, "1.0.0", token, {
		access,
		files: {
			"src/page.html": HOSTILE,
			"lib/a b/ünï.js": "export const a = 1;\r\nexport const b = 2;\n",
			"empty.txt": "",
			"img/logo.png": PNG,
			"img/icon.svg": SVG,
			"bin/data.bin": Uint8Array.from([0xff, 0xfe, 0x00, 0x80, 0x81]),
			"fonts/x.woff2": "not really a font",
			"big.txt": "a line of text\n".repeat(75_000),
		},
	});
	expect(res.status).toBe(201);
}

function view(name: string, path: string, headers: Record<string, string> = {}) {
	return SELF.fetch(`${BASE}/package/${name}/v/1.0.0/files/${path}`, { headers });
}

/** The text of the <pre> of a file's page, as a browser would show it (tags out, entities decoded). */
function shownText(body: string): string {
	const code = /<pre[^>]*><code>([\s\S]*?)<\/code><\/pre>/.exec(body)?.[1] ?? "";
	return code
		.replace(/<span class="ctl">(U\+[0-9A-F]{4,})<\/span>/g, "[$1]")
		.replace(/<\/?span[^>]*>/g, "")
		.replaceAll("&lt;", "<")
		.replaceAll("&gt;", ">")
		.replaceAll("&quot;", '"')
		.replaceAll("&#39;", "'")
		.replaceAll("&amp;", "&");
}

describe("a version's file on a page (#24.9)", () => {
	it("#24.9 renders hostile text as escaped text under the pages' strict CSP, control characters as code points", async () => {
		const name = uniqueName("file-view");
		await publishFiles(name, await publisherFor(name));
		const res = await view(name, "src/page.html");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
		expect(res.headers.get("content-security-policy")).toBe(PAGE_CSP);
		expect(PAGE_CSP).not.toContain("unsafe-inline");
		expect(res.headers.get("x-content-type-options")).toBe("nosniff");
		expect(res.headers.get("cache-control")).toBe("private, no-cache");
		const body = await res.text();
		// Nothing of the file is markup: one script (the site's), no other elements from it.
		expect(body.match(/<script/g)).toHaveLength(1);
		expect(body).not.toContain("<img");
		expect(body).not.toContain("<!doctype html><html>");
		expect(body.match(/<\/pre>/g)).toHaveLength(1);
		expect(body).toContain("&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
		expect(body).toContain("&amp;lt;already escaped&amp;gt;");
		// No raw bidirectional override or NUL reaches the page; each is named where it was.
		for (const c of ["\u202E", "\u2066", "\u2069", "\u0000", "\u0007"]) expect(body).not.toContain(c);
		expect(body).toContain("5 invisible or bidirectional control characters");
		expect(shownText(body)).toBe(
			HOSTILE.replace("\u202E", "[U+202E]")
				.replace("\u2066", "[U+2066]")
				.replace("\u2069", "[U+2069]")
				.replace("\u0000", "[U+0000]")
				.replace("\u0007", "[U+0007]"),
		);
		// One numbered line per line of the file.
		expect(body.match(/<span class="line">/g)).toHaveLength(HOSTILE.split("\n").length);
		expect(body).toContain(`href="${BASE}/files/${name}@1.0.0/src/page.html" class="raw"`);
	});

	it("#24.9 finds paths with spaces and non-ASCII names, keeps CRLF text's lines, and shows an empty file", async () => {
		const name = uniqueName("file-paths");
		await publishFiles(name, await publisherFor(name));
		const res = await view(name, `lib/a%20b/${encodeURIComponent("ünï.js")}`);
		expect(res.status).toBe(200);
		const body = await res.text();
		expect(shownText(body)).toBe("export const a = 1;\nexport const b = 2;");
		expect(body).toContain("2 lines");
		const empty = await view(name, "empty.txt");
		expect(empty.status).toBe(200);
		expect(shownText(await empty.text())).toBe("");
		// The file list links each file's page.
		const list = await (await SELF.fetch(`${BASE}/package/${name}/v/1.0.0/files`)).text();
		expect(list).toContain(`href="/package/${name}/v/1.0.0/files/lib/a%20b/%C3%BCn%C3%AF.js"`);
	});

	it("#24.9 shows images (SVG too) as <img> of the immutable URL, never inline markup", async () => {
		const name = uniqueName("file-images");
		await publishFiles(name, await publisherFor(name));
		const png = await (await view(name, "img/logo.png")).text();
		expect(png).toContain(`<img src="${BASE}/files/${name}@1.0.0/img/logo.png" alt="img/logo.png">`);
		const svgPage = await view(name, "img/icon.svg");
		expect(svgPage.status).toBe(200);
		const svg = await svgPage.text();
		expect(svg).toContain(`<img src="${BASE}/files/${name}@1.0.0/img/icon.svg" alt="img/icon.svg">`);
		expect(svg).not.toContain("<svg");
		expect(svg).not.toContain("alert(3)");
		// The image itself stays inert when opened on its own.
		const raw = await SELF.fetch(`${BASE}/files/${name}@1.0.0/img/icon.svg`);
		expect(raw.headers.get("content-security-policy")).toContain("sandbox");
		await raw.arrayBuffer();
	});

	it("#24.9 offers binary files and files over 1 MB as downloads instead of showing them", async () => {
		const name = uniqueName("file-binary");
		await publishFiles(name, await publisherFor(name));
		for (const [path, why] of [
			["bin/data.bin", "not text (not UTF-8)"],
			["fonts/x.woff2", "not text"],
			["big.txt", "larger than 1 MB"],
		] as const) {
			const res = await view(name, path);
			expect(res.status).toBe(200);
			const body = await res.text();
			const file = path.slice(path.lastIndexOf("/") + 1);
			expect(body).toContain(
				`This file is ${why}: <a href="${BASE}/files/${name}@1.0.0/${path}" download="${file}">download ${file}</a>`,
			);
			expect(body).not.toContain("<pre");
		}
	});

	it("#24.9 answers 404 for missing files, versions and path tricks, and a restricted package's files only to readers", async () => {
		const name = uniqueName("file-missing");
		await publishFiles(name, await publisherFor(name));
		for (const path of ["nope.js", "src%2Fpage.html", "%2E%2E%2Fsrc%2Fpage.html", "src//page.html", "src/"]) {
			expect((await view(name, path)).status, path).toBe(404);
		}
		expect((await SELF.fetch(`${BASE}/package/${name}/v/9.9.9/files/src/page.html`)).status).toBe(404);

		const scope = `@${uniqueName("fileprivate").replaceAll("-", "")}`;
		const secret = `${scope}/files`;
		const owner = await publisherFor(scope);
		await publishFiles(secret, owner, "restricted");
		const anonymous = await view(secret, "src/page.html");
		expect(anonymous.status).toBe(404);
		expect(await anonymous.text()).not.toContain("alert(1)");
		const stranger = (await createToken([{ scope: "@elsewhere", permissions: ["read"] }], "customer")).token;
		expect((await view(secret, "src/page.html", { authorization: `Bearer ${stranger}` })).status).toBe(404);
		const reader = (await createToken([{ package: secret, permissions: ["read"] }], "customer")).token;
		for (const token of [reader, ADMIN]) {
			const res = await view(secret, "img/logo.png", { authorization: `Bearer ${token}` });
			expect(res.status).toBe(200);
			// Its images load from the capability URL, the only one that serves a restricted file.
			expect(await res.text()).toMatch(new RegExp(`<img src="${BASE}/files/~[^/"]+/${secret}@1.0.0/img/logo.png"`));
		}
	});
});
