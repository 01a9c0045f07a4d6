import { etagMatches } from "../../schema/etag";
import { sha256Hex } from "../../schema/hashing";
import { cacheControl } from "../cache-control";
import source from "../loader/loader.browser.js";

// GET /loader.js: the ES module pages import to load web components through channels. It may
// change with a registry upgrade, so browsers revalidate it (an ETag keeps that a 304).

let etag: Promise<string> | null = null;

export async function serveLoader(request: Request): Promise<Response> {
	etag ??= sha256Hex(source).then((hex) => `"${hex.slice(0, 32)}"`);
	const headers = {
		"content-type": "text/javascript; charset=utf-8",
		"cache-control": cacheControl.revalidate("public"),
		etag: await etag,
		"cross-origin-resource-policy": "cross-origin",
	};
	if (etagMatches(request.headers.get("if-none-match"), headers.etag))
		return new Response(null, { status: 304, headers });
	return new Response(source, { headers });
}
