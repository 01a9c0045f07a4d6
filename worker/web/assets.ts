import { etagMatches } from "../../schema/etag";
import { sha256Hex } from "../../schema/hashing";
import { type Handler, route } from "../route-policy";
import script from "../web/assets/site.browser.js";
import stylesheet from "../web/assets/site.css";

// GET /-/web/site.css and /-/web/site.js: the pages' stylesheet and script, files of the
// registry's because the pages' CSP allows no inline style or script. They change with upgrades
// only, so browsers revalidate them and an unchanged one costs a 304.

const etags = new Map<string, Promise<string>>();

function serve(source: string, contentType: string): Handler {
	return route({ auth: "none", cache: "revalidate" }, async (request) => {
		let etag = etags.get(source);
		if (!etag) {
			etag = sha256Hex(source).then((hex) => `"${hex.slice(0, 32)}"`);
			etags.set(source, etag);
		}
		const headers = {
			"content-type": contentType,
			etag: await etag,
			"x-content-type-options": "nosniff",
		};
		if (etagMatches(request.headers.get("if-none-match"), headers.etag)) {
			return new Response(null, { status: 304, headers });
		}
		return new Response(source, { headers });
	});
}

export const serveStylesheet = serve(stylesheet, "text/css; charset=utf-8");
export const serveScript = serve(script, "text/javascript; charset=utf-8");
