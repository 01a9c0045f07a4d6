import { ALLOW_ORIGIN } from "./cors";
import { route } from "./route-policy";

// The CORS preflight of the browser-facing routes (cors.ts): its own file, so that cors.ts, which
// the route guards use to finish prepared answers (prepared-answer.ts), needs no route guard.

/** OPTIONS preflight: a page may send Authorization (customer keys) and conditional headers. */
export const preflight = route(
	{ auth: "none", cache: "none" },
	() =>
		new Response(null, {
			status: 204,
			headers: {
				...ALLOW_ORIGIN,
				"access-control-allow-methods": "GET, HEAD, POST, PATCH, DELETE, OPTIONS",
				"access-control-allow-headers": "authorization, content-type, if-none-match, x-client-key",
				"access-control-max-age": "86400",
			},
		}),
);
