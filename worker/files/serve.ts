import semver from "semver";
import { etagMatches } from "../../schema/etag";
import type { BundledFile } from "../../schema/package/contract";
import { urlOf } from "../http";
import { packageRevision, packageStub } from "../objects";
import { packageName } from "../params";
import { PerEntry } from "../prepared-answer";
import { readBytes } from "../read-tier/bytes";
import { lookupThroughReadTier } from "../read-tier/tier";
import { refused } from "../refusals";
import { route } from "../route-policy";
import { isCapabilityFor } from "./capability";
import { contentTypeFor } from "./content-types";

// GET /files/{name}@{version}/{path} and /files/~{capability}/{name}@{version}/{path}: one file
// of one version, read from the version's file bundle with a single ranged R2 read. Versions are
// immutable, so every answer can be cached forever; anything that is not exactly a stored file
// of an exact version (tags, `..`, encoded slashes, directories) is a 404.

type FileAddress = { capability: string | null; name: string; version: string; path: string };

export const serveFile = route({ auth: "capability", cache: "immutable" }, async (request, env, ctx) => {
	const address = parseFileAddress(urlOf(request).pathname);
	if (!address) throw refused.hidden();
	const pkg = packageName(address.name);
	const capable =
		address.capability !== null && (await isCapabilityFor(env, address.capability, pkg.name, address.version));
	const { value: found, outcome } = await lookupThroughReadTier({
		request,
		env,
		ctx,
		route: "file",
		owner: pkg.name,
		key: `file:${pkg.name}@${address.version}/${address.path}`,
		shareable: (access) => access === "public",
		// A public package's files under the plain URL; a restricted one's only under its capability URL.
		admits: (access) => (address.capability === null ? access === "public" : capable),
		revision: () => packageRevision(env, pkg.name),
		produce: async () => {
			const answer = await packageStub(env, pkg.name).file(address.version, address.path);
			if (!answer.ok) throw refused.hidden();
			const { key, file, access, rev } = answer.value;
			if (address.capability === null ? access !== "public" : !capable) throw refused.hidden();
			return { value: { key, file, access }, access, rev };
		},
	});

	const { file, key } = found;
	const { headers, sized, etag } = fileHeaders(found, outcome);
	if (etagMatches(request.headers.get("if-none-match"), etag)) return { body: null, status: 304, headers };
	if (file.size === 0) return { body: new Uint8Array(), headers: sized };
	const body = await readBytes(env, ctx, key, file.size, {
		shared: found.access === "public",
		range: { offset: file.offset, length: file.size },
	});
	if (!body) throw refused.hidden();
	return { body, headers: sized };
});

type FileHeaders = { headers: Headers; sized: Headers; etag: string };

/**
 * A file's headers (with and without its length), made once per location the read tier keeps (a
 * hit shares its parsed value) and outcome: a page loading a widget's files sets none per request (#25).
 */
const madeHeaders = new PerEntry<string, FileHeaders>();

function fileHeaders(found: { file: BundledFile }, outcome: string): FileHeaders {
	const made = madeHeaders.get(found, outcome);
	if (made) return made;
	const { file } = found;
	const etag = `"${file.sha256}"`;
	const headers = new Headers({
		"content-type": contentTypeFor(file.path),
		etag,
		"cross-origin-resource-policy": "cross-origin",
		"x-content-type-options": "nosniff",
		"x-registry-cache": outcome,
		...inertHeaders(file.path),
	});
	const sized = new Headers(headers);
	sized.set("content-length", String(file.size));
	return madeHeaders.set(found, outcome, { headers, sized, etag });
}

/**
 * A package's files must never run as a page of the registry's origin (where the pages and their
 * session cookie live). Opened directly, anything but a script is sandboxed (an opaque origin, no
 * script); documents a browser would render (HTML, XHTML, SVG, XML) are downloads, never pages.
 * As subresources (an <img>, a stylesheet, a fetch) none of this applies: widgets still load their
 * SVG, CSS and JSON. Scripts get no CSP, which would bind a worker started from them.
 */
function inertHeaders(path: string): Record<string, string> {
	const extension = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
	if (["js", "mjs", "cjs"].includes(extension)) return {};
	const headers: Record<string, string> = {
		"content-security-policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox",
	};
	if (DOCUMENTS.has(extension)) headers["content-disposition"] = "attachment";
	return headers;
}

const DOCUMENTS = new Set([
	"html",
	"htm",
	"xhtml",
	"xht",
	"shtml",
	"svg",
	"svgz",
	"xml",
	"xsl",
	"xslt",
	"mht",
	"mhtml",
	"pdf",
]);

/** Splits a /files/ path; null for anything that cannot name one stored file. */
function parseFileAddress(pathname: string): FileAddress | null {
	const segments = pathname.split("/").slice(2); // "", "files", …
	let decoded: string[];
	try {
		decoded = segments.map((s) => decodeURIComponent(s));
	} catch {
		return null;
	}
	if (decoded.some((s) => s === "" || s === "." || s === ".." || s.includes("/") || s.includes("\\"))) return null;
	let capability: string | null = null;
	if (decoded[0]?.startsWith("~")) {
		capability = decoded[0].slice(1);
		decoded.shift();
	}
	const scoped = decoded[0]?.startsWith("@") ?? false;
	const idParts = decoded.slice(0, scoped ? 2 : 1);
	const path = decoded.slice(scoped ? 2 : 1).join("/");
	const id = idParts.join("/");
	const at = id.lastIndexOf("@");
	if (at <= 0 || path === "") return null;
	const version = id.slice(at + 1);
	if (semver.valid(version) !== version) return null;
	return { capability, name: id.slice(0, at), version, path };
}
