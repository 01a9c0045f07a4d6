import { config } from "../../schema/config";
import { derivedKey } from "../../schema/derived-keys";
import { urlOf } from "../http";
import { refused } from "../refusals";

// Web sessions. Signing in (worker/web/signin.ts) checks a token, or a user's npm login
// credentials (which mint a login token that expires with the session), and sets a cookie holding
// the token's SHA-256, the session's expiry, whether the sign-in minted the token and a random
// session id, signed with HMAC-SHA-256 under a key derived from ENCRYPTION_KEY. Never the token itself: the hash names the
// token's object and cannot be presented as a token. Each page request checks the signature and
// the expiry, then resolves the token as a header's would be (revoked or expired: signed out), and
// asks whether the session signed out (worker/web/session-ends.ts): a copy of the cookie kept
// after signing out is no one's, though a pasted token lives on.
// The cookie is HttpOnly, SameSite=Strict, Secure except on plain-http loopback, and read only by
// page routes: the API authenticates with Authorization headers alone, so cookies cannot make a
// cross-site request to it count as anyone's.

export const SESSION_SECONDS = 8 * 3600;

export type Session = {
	/** SHA-256 (hex) of the token the session acts with. */
	hash: string;
	/** Seconds since the epoch. */
	expires: number;
	/** The sign-in minted the token (from a password): signing out revokes it. */
	minted: boolean;
	/** Random, per sign-in: what signing out ends. */
	id: string;
};

/** A new session's id: 128 random bits. */
export function newSessionId(): string {
	return crypto.getRandomValues(new Uint8Array(16)).toBase64({ alphabet: "base64url", omitPadding: true });
}

const encoder = new TextEncoder();
function sessionKey(env: Env): Promise<CryptoKey> {
	const secret = config(env).encryptionKey;
	// The router answers 503 before any route runs while a secret is missing (see router.ts).
	if (secret === null) throw refused.secretMissing("ENCRYPTION_KEY");
	return derivedKey(secret, "registry web sessions", { name: "HMAC", hash: "SHA-256", length: 256 }, [
		"sign",
		"verify",
	]);
}

/** Plain http is allowed only on a loopback address (a browser refuses Secure cookies there). */
function secureCookies(request: Request): boolean {
	const url = urlOf(request);
	return !(url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname));
}

/** `__Host-` pins the cookie to this origin and path /; browsers accept it only when Secure. */
function cookieName(request: Request): string {
	return secureCookies(request) ? "__Host-registry-session" : "registry-session";
}

function attributes(request: Request, maxAge: number): string {
	return `Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secureCookies(request) ? "; Secure" : ""}`;
}

export async function sessionCookie(request: Request, env: Env, session: Session): Promise<string> {
	const payload = encoder.encode(`${session.hash}.${session.expires}.${session.minted ? 1 : 0}.${session.id}`);
	const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await sessionKey(env), payload));
	const value = `${payload.toBase64({ alphabet: "base64url", omitPadding: true })}.${signature.toBase64({
		alphabet: "base64url",
		omitPadding: true,
	})}`;
	const maxAge = Math.max(0, session.expires - Math.floor(Date.now() / 1000));
	return `${cookieName(request)}=${value}; ${attributes(request, maxAge)}`;
}

export function clearedSessionCookie(request: Request): string {
	return `${cookieName(request)}=; ${attributes(request, 0)}`;
}

/** The request's session when its cookie is present, signed by this registry and not expired. */
export async function readSession(request: Request, env: Env): Promise<Session | null> {
	const value = cookieValue(request.headers.get("cookie"), cookieName(request));
	if (value === null) return null;
	const [payloadText, signatureText] = value.split(".");
	if (!payloadText || !signatureText) return null;
	let payload: Uint8Array<ArrayBuffer>;
	let signature: Uint8Array<ArrayBuffer>;
	try {
		payload = Uint8Array.fromBase64(payloadText, { alphabet: "base64url" }) as Uint8Array<ArrayBuffer>;
		signature = Uint8Array.fromBase64(signatureText, { alphabet: "base64url" }) as Uint8Array<ArrayBuffer>;
	} catch {
		return null;
	}
	if (!(await crypto.subtle.verify("HMAC", await sessionKey(env), signature, payload))) return null;
	const [hash = "", expires = "", minted = "", id = ""] = new TextDecoder().decode(payload).split(".");
	const session = { hash, expires: Number(expires), minted: minted === "1", id };
	// A cookie from before sessions had ids could never be ended: it is signed out.
	if (!/^[0-9a-f]{64}$/.test(hash) || !Number.isInteger(session.expires) || !/^[\w-]{22}$/.test(id)) return null;
	return session.expires > Date.now() / 1000 ? session : null;
}

function cookieValue(header: string | null, name: string): string | null {
	for (const part of (header ?? "").split(";")) {
		const eq = part.indexOf("=");
		if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
	}
	return null;
}
