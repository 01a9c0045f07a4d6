import { authenticate, authenticateHash, clientIp, type Principal } from "../auth/principal";
import type { CacheName } from "../cache-control";
import { HttpError } from "../errors";
import { publicBaseUrl, type RouteRequest, urlOf } from "../http";
import { literal } from "../literal";
import { refused } from "../refusals";
import { declare, type Handler, withCache } from "../route-policy";
import { type Html, html, trusted } from "./html";
import { clearedSessionCookie, readSession, type Session } from "./session";
import { sessionEnded } from "./session-ends";

// What every page shares: who it is for (a session cookie or an Authorization header), the
// layout with its landmarks, the security headers, HTML error pages, and the Origin check of
// every form that changes something.

/**
 * No inline script or style anywhere: the pages' one script and one stylesheet are files of the
 * registry's; README images may come from https: or be data: images; nothing may frame a page.
 */
export const PAGE_CSP = [
	"default-src 'none'",
	"script-src 'self'",
	"style-src 'self'",
	"img-src 'self' https: data:",
	"form-action 'self'",
	"base-uri 'none'",
	"frame-ancestors 'none'",
].join("; ");

export type Viewer = {
	principal: Principal;
	session: Session | null;
	/** The request carried a session that no longer works: the answer clears its cookie. */
	staleSession: boolean;
};

/** The page's principal: an Authorization header if there is one, else the session cookie, else anonymous. */
export async function viewer(request: Request, env: Env): Promise<Viewer> {
	if (request.headers.has("authorization")) {
		return { principal: await authenticate(request, env), session: null, staleSession: false };
	}
	const session = await readSession(request, env);
	const [principal, ended] =
		session === null
			? [null, true]
			: await Promise.all([authenticateHash(request, env, session.hash), sessionEnded(env, session)]);
	if (session !== null && principal !== null && !ended) return { principal, session, staleSession: false };
	// Anonymous, as an API request without a token is (rate-limited the same way).
	return {
		principal: await authenticate(request, env),
		session: null,
		staleSession: request.headers.get("cookie")?.includes("registry-session=") ?? false,
	};
}

/**
 * Forms that change something are accepted only from the registry's own pages: the browser's
 * Origin header must name this origin (or PUBLIC_URL's). The session cookie is SameSite=Strict
 * too; this holds even where a browser would send it.
 */
export function assertSameOrigin(request: Request, env: Env): void {
	const origin = request.headers.get("origin");
	const allowed = [urlOf(request).origin, new URL(publicBaseUrl(request, env)).origin];
	if (origin === null || !allowed.includes(origin)) {
		throw refused.crossOriginForm();
	}
}

/** Stands in a page's body for the account links, filled per request (a cached page is anyone's). */
export const ACCOUNT_SLOT = "<!--registry:account-->";

export function layout(options: { title: string; query?: string; body: Html }): Html {
	return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · registry</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/-/web/site.css">
<script type="module" src="/-/web/site.js"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site">
<nav aria-label="Site">
<a class="brand" href="/">registry</a>
<form class="search" role="search" action="/search" method="get">
<label for="site-search" class="visually-hidden">Search packages</label>
<input id="site-search" name="q" type="search" placeholder="Search packages" value="${options.query ?? ""}">
<button type="submit">Search</button>
</form>
<div class="account">${trusted(ACCOUNT_SLOT)}</div>
</nav>
</header>
<main id="main">
${options.body}
</main>
<footer class="site"><p>An npm-compatible registry. <a href="/-/v1/search?text=">Search API</a> · <a href="/-/ping">Status</a></p></footer>
</body>
</html>
`;
}

function accountLinks(principal: Principal, request: Request): string {
	if (principal.kind === "anonymous") {
		const next = urlOf(request).pathname + urlOf(request).search;
		return html`<a href="/-/signin?next=${encodeURIComponent(next)}">Sign in</a>`.value;
	}
	return html`<span class="who">Signed in as <strong>${principal.name}</strong></span>
${principal.kind === "admin" ? html`<a href="/-/dashboard">Dashboard</a>` : ""}
<form method="post" action="/-/signout"><button type="submit" class="link">Sign out</button></form>`.value;
}

/** The headers every page is sent with. */
export function pageHeaders(): Record<string, string> {
	return {
		"content-type": "text/html; charset=utf-8",
		"content-security-policy": PAGE_CSP,
		"x-content-type-options": "nosniff",
		"referrer-policy": "same-origin",
		"x-frame-options": "DENY",
	};
}

/** A page as a response: its account slot filled for this viewer, the security headers set. */
export function pageResponse(
	request: Request,
	who: Viewer,
	body: Html | string,
	init: { status?: number; headers?: Record<string, string> } = {},
): Response {
	const headers = new Headers({ ...pageHeaders(), ...init.headers });
	if (who.staleSession) headers.append("set-cookie", clearedSessionCookie(request));
	// Literally: a `$'` or `$&` in a token's name would otherwise be read as a replacement pattern.
	const text = String(body).replace(ACCOUNT_SLOT, literal(accountLinks(who.principal, request)));
	return new Response(text, { status: init.status ?? 200, headers });
}

export type PageContext = { request: RouteRequest; env: Env; ctx: ExecutionContext; who: Viewer };

/** Someone not signed in (or not yet known: an error page before the viewer is resolved). */
export function anonymousViewer(request: Request, env: Env): Viewer {
	return { principal: { kind: "anonymous", ip: clientIp(request, env) }, session: null, staleSession: false };
}

/**
 * A page route: the viewer resolved, and every refusal answered as a page with the API's status
 * (a restricted package the viewer may not read is the same 404 as one that does not exist).
 */
export function webPage(
	policy: { auth: "viewer"; cache: CacheName },
	handle: (context: PageContext) => Promise<Response>,
): Handler {
	return declare(async (request, env, ctx) => {
		let who = anonymousViewer(request, env);
		try {
			who = await viewer(request, env);
			return withCache(policy.cache, await handle({ request, env, ctx, who }));
		} catch (error) {
			if (!(error instanceof HttpError)) throw error;
			return withCache(policy.cache, errorPage(request, who, error));
		}
	}, policy);
}

const TITLES: Partial<Record<number, string>> = {
	400: "Bad request",
	401: "Sign in needed",
	403: "Not allowed",
	404: "Not found",
	409: "Conflict",
	429: "Too many requests",
};

export function errorPage(request: Request, who: Viewer, error: HttpError): Response {
	const title = TITLES[error.status] ?? "Something went wrong";
	const message = error.status === 404 ? "There is nothing here, or nothing you may see." : error.message;
	const body = layout({
		title,
		body: html`<section class="error" aria-labelledby="error-title">
<h1 id="error-title">${title}</h1>
<p>${message}</p>
<p><a href="/">Back to the registry</a></p>
</section>`,
	});
	return pageResponse(request, who, body, { status: error.status, headers: error.headers });
}

/** A redirect after a form (303: the browser follows it with a GET). */
export function seeOther(location: string, headers: Record<string, string> = {}): Response {
	return new Response(null, { status: 303, headers: { location, ...headers } });
}
