import type { Actor } from "../../schema/audit";
import { sha256Hex } from "../../schema/hashing";
import { authStore } from "../auth/auth-store";
import { passwordMatches, recordFailure } from "../auth/credentials";
import { actorOf } from "../auth/permissions";
import { authenticate, clientIp, newToken } from "../auth/principal";
import { verifyOtp } from "../auth/two-factor";
import { HttpError, unwrap } from "../errors";
import { readBodyBytes } from "../http";
import { refused } from "../refusals";
import { route } from "../route-policy";
import { html } from "./html";
import {
	anonymousViewer,
	assertSameOrigin,
	errorPage,
	layout,
	pageResponse,
	seeOther,
	type Viewer,
	viewer,
	webPage,
} from "./page";
import { clearedSessionCookie, newSessionId, readSession, SESSION_SECONDS, sessionCookie } from "./session";
import { endSession } from "./session-ends";

// /-/signin and /-/signout. A person signs in with a token (any the API accepts: dev_, blk_,
// adm_, the admin token) or with their npm login (name, password, and a one-time code when their
// account has TOTP), checked exactly as the API checks them: failures are counted, locked out and
// audited the same way. A password sign-in mints a login token, as `npm login` does, that expires
// with the session and is revoked at sign-out; a pasted token is the person's own and stays, but
// the session ends (worker/web/session-ends.ts).

/** GET /-/signin */
export const signInPage = webPage({ auth: "viewer", cache: "personal" }, async ({ request, who }) =>
	pageResponse(request, who, signInForm(nextOf(request.query.next), null)),
);

/** POST /-/signin */
export const signIn = route({ auth: "password", cache: "form" }, async (request, env) => {
	const anonymous = anonymousViewer(request, env);
	try {
		assertSameOrigin(request, env);
	} catch (error) {
		if (error instanceof HttpError) return errorPage(request, anonymous, error);
		throw error;
	}
	let next = "/";
	try {
		const form = new URLSearchParams(new TextDecoder().decode(await readBodyBytes(request, 16 * 1024)));
		next = nextOf(form.get("next") ?? undefined);
		const token = form.get("token")?.trim() ?? "";
		const name = form.get("name")?.trim() ?? "";
		const expires = Math.floor(Date.now() / 1000) + SESSION_SECONDS;
		const id = newSessionId();
		if (token !== "") {
			const hash = await signInWithToken(request, env, token);
			return seeOther(next, { "set-cookie": await sessionCookie(request, env, { hash, expires, minted: false, id }) });
		}
		if (name === "") throw refused.signInNeedsCredentials();
		const password = form.get("password") ?? "";
		const hash = await signInWithPassword(request, env, name, password, form.get("otp"), expires);
		try {
			return seeOther(next, { "set-cookie": await sessionCookie(request, env, { hash, expires, minted: true, id }) });
		} catch (error) {
			// No session came of it: the login token minted for it must not outlive the failure.
			await authStore(env).revokeTokenByHash(hash, { name, prefix: null, ip: clientIp(request, env), label: name });
			throw error;
		}
	} catch (error) {
		if (!(error instanceof HttpError)) throw error;
		return pageResponse(request, anonymous, signInForm(next, error.message), {
			status: error.status,
			headers: error.status === 429 ? error.headers : {},
		});
	}
});

/** POST /-/signout: the cookie goes; a token the sign-in minted is revoked. */
export const signOut = route({ auth: "viewer", cache: "form" }, async (request, env) => {
	let who: Viewer | null = null;
	try {
		assertSameOrigin(request, env);
		who = await viewer(request, env);
		const session = await readSession(request, env);
		if (session) await endSession(env, session);
		if (session?.minted) await authStore(env).revokeTokenByHash(session.hash, actorOf(who.principal));
		return seeOther("/", { "set-cookie": clearedSessionCookie(request) });
	} catch (error) {
		if (!(error instanceof HttpError)) throw error;
		return errorPage(request, who ?? anonymousViewer(request, env), error);
	}
});

/** The token as the API would take it from a header: a wrong one fails (counted, audited) the same way. */
async function signInWithToken(request: Request, env: Env, token: string): Promise<string> {
	const headers = new Headers(request.headers);
	headers.set("authorization", `Bearer ${token}`);
	const principal = await authenticate(new Request(request.url, { method: "POST", headers }), env);
	if (principal.kind === "anonymous") throw refused.tokenRejected();
	return sha256Hex(token);
}

/** npm login's checks (worker/npm/users.ts), then a login token that lives as long as the session. */
async function signInWithPassword(
	request: Request,
	env: Env,
	name: string,
	password: string,
	otp: string | null,
	expires: number,
): Promise<string> {
	const actor: Actor = { name, prefix: null, ip: clientIp(request, env), label: name };
	if (!(await passwordMatches(request, env, name, password))) {
		await recordFailure(request, env, name, "login", actor);
		throw refused.badCredentials();
	}
	const store = authStore(env);
	const user = await store.getUser(name);
	if (user.ok && user.value.twoFactor) {
		const headers = new Headers(request.headers);
		if (otp) headers.set("npm-otp", otp);
		await verifyOtp(new Request(request.url, { method: "POST", headers }), env, name, actor);
	}
	const minted = await newToken("developer");
	unwrap(
		await store.createToken(
			{
				hash: minted.hash,
				prefix: minted.prefix,
				kind: "developer",
				name: `${name} (web session)`,
				user: name,
				origin: "login",
				grants: [],
				expiresAt: new Date(expires * 1000).toISOString(),
			},
			actor,
		),
	);
	return minted.hash;
}

/**
 * Where to go after signing in: a path of this registry only, else `/`. Printable ASCII only (the
 * pages' own links are percent-encoded): a tab or newline is dropped by browsers, so `/<TAB>/evil`
 * would become `//evil`, another origin, and a CR or LF is not a valid header value at all.
 */
function nextOf(raw: string | string[] | undefined): string {
	const value = Array.isArray(raw) ? raw[0] : raw;
	if (value === undefined || !/^\/[\x21-\x7e]*$/.test(value)) return "/";
	if (value.startsWith("//") || value.includes("\\")) return "/";
	// Resolved against an origin of no one's, the path must stay on it.
	const resolved = new URL(value, "https://registry.invalid");
	return resolved.origin === "https://registry.invalid" ? value : "/";
}

function signInForm(next: string, error: string | null) {
	return layout({
		title: "Sign in",
		body: html`<section class="signin" aria-labelledby="signin-title">
<h1 id="signin-title">Sign in</h1>
${error === null ? "" : html`<p class="error" role="alert">${error}</p>`}
<div class="signin-forms">
<form method="post" action="/-/signin">
<fieldset>
<legend>With a token</legend>
<input type="hidden" name="next" value="${next}">
<label for="token">Token (dev_…, blk_… or adm_…)</label>
<input id="token" name="token" type="password" autocomplete="off" required>
<button type="submit">Sign in</button>
</fieldset>
</form>
<form method="post" action="/-/signin">
<fieldset>
<legend>With your npm login</legend>
<input type="hidden" name="next" value="${next}">
<label for="name">User name</label>
<input id="name" name="name" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<label for="otp">One-time code (if your account uses two-factor)</label>
<input id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code">
<button type="submit">Sign in</button>
</fieldset>
</form>
</div>
<p class="note">The session lasts ${SESSION_SECONDS / 3600} hours. The token is never kept in your browser.</p>
</section>`,
	});
}
