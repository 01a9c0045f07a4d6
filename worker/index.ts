import { normalizeScopedPath } from "../schema/names";
import { router } from "./router";

export { AuthStoreDO } from "../durable-objects/auth/auth-store";
export { TokenDO } from "../durable-objects/auth/token";
export { PackageMetadataDO } from "../durable-objects/package/package-metadata";
export { RegistryIndexDO } from "../durable-objects/search/registry-index";

// The registry Worker: rewrites the path into one canonical spelling and hands it to the router.
// It keeps no state of its own; packages, tokens and bytes live in the Durable Objects and R2.

export default {
	async fetch(request, env, ctx): Promise<Response> {
		const url = new URL(request.url);
		const pathname = normalizeScopedPath(url.pathname);
		const head = request.method === "HEAD";
		let routed = request;
		if (pathname !== url.pathname || head) {
			url.pathname = pathname;
			routed = new Request(url, head ? { method: "GET", headers: request.headers } : request);
		}
		const response = await router.fetch(Object.assign(routed, { head }), env, ctx);
		return head ? new Response(null, response) : response;
	},
} satisfies ExportedHandler<Env>;
