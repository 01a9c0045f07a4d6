import type { Principal } from "../auth/principal";
import { HttpError } from "../errors";
import { noteRefusal } from "../metrics/isolate";
import { refused } from "../refusals";
import { type CachedEntry, memoryGet, memoryHasRefusals, memoryPut } from "./memory";

// Negative answers (#25): the 404 of a name that does not exist, or of a restricted package the
// caller may not read, kept in this isolate's memory per caller class for a few seconds, so a CI
// fleet fetching a private package without a token (or anyone probing names) does not send every
// request to the package's object. Kept under the package's name, so any write to it (a publish,
// an access change) drops them with its other entries (`forgetPackage`); a token's class names its
// grants as this isolate holds them, so a grant change (which forgets the token here at once, and
// everywhere within the token cache's lifetime) starts a class with nothing kept. Only the bare
// `not_found` refusal is kept, and it is answered by throwing that same refusal again: the answer
// is exactly a missing package's, whatever the reason, and takes the same path either way.

/** At most this long, and never longer than READ_CACHE_SECONDS. */
export const REFUSAL_KEEP_MS = 5_000;

const grantGenerations = new WeakMap<object, number>();
let lastGeneration = 0;

/**
 * Whose refusals an answer may be reused for: anyone without a token, the admin, or one token under
 * one set of its grants (the grants list of its record in this isolate's token cache: a changed
 * record is a new class).
 */
export function callerClass(principal: Principal): string {
	if (principal.kind === "anonymous") return "anonymous";
	if (principal.kind === "admin") return "admin";
	// A token's principal is made once per token record (auth/principal.ts): so is its class.
	let named = classes.get(principal);
	if (named === undefined) {
		let generation = grantGenerations.get(principal.grants);
		if (generation === undefined) {
			lastGeneration += 1;
			generation = lastGeneration;
			grantGenerations.set(principal.grants, generation);
		}
		named = `token:${principal.tokenId}:${generation}`;
		classes.set(principal, named);
	}
	return named;
}

const classes = new WeakMap<Principal, string>();

function refusalKey(caller: string, key: string): string {
	return `404 ${caller} ${key}`;
}

/** Whether there is a fresh kept refusal for this caller class and key. */
export function hasKeptRefusal(caller: string, key: string, keepMs: number): boolean {
	if (!memoryHasRefusals()) return false;
	const kept = memoryGet(refusalKey(caller, key));
	return kept !== null && Date.now() - kept.storedAt < keepMs;
}

/** Throws the kept refusal when there is a fresh one for this caller class and key. */
export function throwKeptRefusal(caller: string, key: string, keepMs: number): void {
	if (hasKeptRefusal(caller, key, keepMs)) throw HIDDEN;
}

/** The kept refusal thrown (for a caller that answers with a value, not a response). */
export function throwHidden(): never {
	throw HIDDEN;
}

/**
 * The kept refusal's response, exactly as the router makes it from the thrown refusal (and noted
 * for the metrics the same way), for a read that answers with a response: throwing it through
 * every async frame up to the router cost a kept 404 a sixth of its work (#25).
 */
export function keptRefusalResponse(): Response {
	const response = HIDDEN.toResponse();
	noteRefusal(response, HIDDEN.code);
	return response;
}

/** Keeps the refusal when it is the one a missing package gets (anything else is not kept). */
export function keepRefusal(caller: string, key: string, owner: string | null, error: unknown): void {
	if (!isHidden(error)) return;
	const entry: CachedEntry = { status: 404, headers: [], body: "", access: null, rev: null, storedAt: Date.now() };
	memoryPut(refusalKey(caller, key), owner, entry, { refusal: true });
}

/** The refusal a missing package gets, made once (the router answers each throw with a new response). */
const HIDDEN = refused.hidden();

function isHidden(error: unknown): boolean {
	return (
		error instanceof HttpError &&
		error.status === HIDDEN.status &&
		error.code === HIDDEN.code &&
		error.message === HIDDEN.message
	);
}
