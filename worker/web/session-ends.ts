import { tokenStub } from "../objects";
import type { Session } from "./session";

// Signing out ends the session, not only the cookie: a copy of the cookie replayed afterwards is
// signed out too, though a pasted token lives on. The sign-out is recorded in the token's TokenDO
// (the object every check of that token reads already) and remembered in this isolate, where it
// applies at once; other isolates ask the TokenDO and keep its answer as long as they keep a token
// record (30 seconds), so a sign-out reaches them as fast as a revocation does.

const CHECK_CACHE_MS = 30_000;
const MAX_REMEMBERED = 10_000;

/** Sessions signed out in this isolate, by `${hash}.${id}`, with their expiry (epoch seconds). */
const endedHere = new Map<string, number>();
/** The TokenDO's answers, by `${hash}.${id}`. */
const checked = new Map<string, { ended: boolean; until: number }>();

const keyOf = (session: Session) => `${session.hash}.${session.id}`;

export async function endSession(env: Env, session: Session): Promise<void> {
	await tokenStub(env, session.hash).endSession(session.id, session.expires);
	const now = Date.now() / 1000;
	if (endedHere.size >= MAX_REMEMBERED) {
		for (const [key, expires] of endedHere) if (expires <= now) endedHere.delete(key);
	}
	// Still full of live sessions: the TokenDO keeps answering for the ones let go.
	if (endedHere.size >= MAX_REMEMBERED) endedHere.clear();
	endedHere.set(keyOf(session), session.expires);
	checked.delete(keyOf(session));
}

export async function sessionEnded(env: Env, session: Session): Promise<boolean> {
	const key = keyOf(session);
	if (endedHere.has(key)) return true;
	const now = Date.now();
	const cached = checked.get(key);
	if (cached && cached.until > now) return cached.ended;
	const ended = await tokenStub(env, session.hash).sessionEnded(session.id);
	if (checked.size >= MAX_REMEMBERED) checked.clear();
	checked.set(key, { ended, until: now + CHECK_CACHE_MS });
	return ended;
}
