import type { Element, Root } from "hast";
import rehypeRaw from "rehype-raw";
import rehypeSanitize, { defaultSchema, type Options as SanitizeSchema } from "rehype-sanitize";
import rehypeStringify from "rehype-stringify";
import remarkGfm from "remark-gfm";
import remarkParse from "remark-parse";
import remarkRehype from "remark-rehype";
import { unified } from "unified";
import { visit } from "unist-util-visit";

// A README is untrusted input. It is rendered once per version, at publish, by the unified family:
// markdown (with GitHub's extensions) to an HTML tree, raw HTML inside it parsed by a real HTML
// parser (parse5, through rehype-raw: comments that "break out", unclosed tags and the like end up
// as the browser would read them), then sanitised by rehype-sanitize against GitHub's allow-list,
// narrowed further. Only then does anything of ours touch the tree (links, images, ids). Nothing
// here parses or sanitises by hand.

/** Where a README's relative links point once rendered: the version's files, resolved per page. */
export const VERSION_FILES = "x-registry-version-files:";

const ID_PREFIX = "user-content-";

/** GitHub's schema without the attributes a README has no use for, plus data: URLs for images. */
const schema: SanitizeSchema = {
	...defaultSchema,
	attributes: {
		...defaultSchema.attributes,
		"*": (defaultSchema.attributes?.["*"] ?? []).filter(
			(name) =>
				!["accessKey", "tabIndex", "action", "method", "encType", "acceptCharset", "accept"].includes(String(name)),
		),
	},
	protocols: { ...defaultSchema.protocols, src: ["http", "https", "data"] },
	clobberPrefix: ID_PREFIX,
	strip: ["script", "style", "template", "textarea", "title", "noscript", "xmp", "iframe", "noembed", "noframes"],
	allowComments: false,
	allowDoctypes: false,
};

/** Images may be data: URLs of raster or SVG images (an <img> never runs script); nothing else may. */
const DATA_IMAGE = /^data:image\/(png|jpe?g|gif|webp|avif|svg\+xml)[;,]/i;

/** After sanitising: links and images made safe and useful on the registry's pages. */
function registryLinks() {
	return (tree: Root) => {
		visit(tree, "element", (node: Element) => {
			const props = node.properties;
			if (node.tagName === "img") {
				const src = typeof props.src === "string" ? props.src : "";
				if (src.toLowerCase().startsWith("data:") && !DATA_IMAGE.test(src)) delete props.src;
				else if (isRelative(src)) props.src = fileUrl(src);
				props.loading = "lazy";
				props.referrerPolicy = "no-referrer";
			}
			if (node.tagName === "a" && typeof props.href === "string") {
				const href = props.href;
				if (href.startsWith("#")) {
					// Ids were prefixed; in-page links follow them (GitHub does this with script).
					const target = decodeFragment(href.slice(1));
					props.href = `#${target.startsWith(ID_PREFIX) ? target : `${ID_PREFIX}${target}`}`;
				} else if (isRelative(href)) {
					props.href = fileUrl(href);
				} else {
					props.rel = ["nofollow", "ugc", "noopener"];
				}
			}
		});
	};
}

function isRelative(url: string): boolean {
	return url !== "" && !/^[a-z][a-z0-9+.-]*:/i.test(url) && !url.startsWith("//") && !url.startsWith("/");
}

function fileUrl(relative: string): string {
	return `${VERSION_FILES}${relative.replace(/^(\.\/)+/, "")}`;
}

function decodeFragment(fragment: string): string {
	try {
		return decodeURIComponent(fragment);
	} catch {
		return fragment;
	}
}

const processor = unified()
	.use(remarkParse)
	.use(remarkGfm)
	// Footnote ids are left unprefixed here: the sanitiser prefixes every id once.
	.use(remarkRehype, { allowDangerousHtml: true, clobberPrefix: "" })
	.use(rehypeRaw)
	.use(rehypeSanitize, schema)
	.use(registryLinks)
	.use(rehypeStringify)
	.freeze();

/** The README as sanitised HTML (relative URLs start with VERSION_FILES, resolved when a page is built). */
export function renderReadme(markdown: string): string {
	return String(processor.processSync(markdown));
}
