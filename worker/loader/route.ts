import { etagMatches } from "../../schema/etag";
import { sha256Hex } from "../../schema/hashing";
import source from "../loader/loader.browser.js";
import { route } from "../route-policy";

// GET /loader.js: the ES module pages import to load web components through channels. It may
// change with a registry upgrade, so browsers revalidate it (an ETag keeps that a 304).

let etag: Promise<string> | null = null;

export const serveLoader = route({ auth: "none", cache: "revalidate" }, async (request) => {
	etag ??= sha256Hex(source).then((hex) => `"${hex.slice(0, 32)}"`);
	const headers = {
		"content-type": "text/javascript; charset=utf-8",
		etag: await etag,
		"cross-origin-resource-policy": "cross-origin",
	};
	if (etagMatches(request.headers.get("if-none-match"), headers.etag))
		return new Response(null, { status: 304, headers });
	return new Response(source, { headers });
});
