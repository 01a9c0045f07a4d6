import type { Actor } from "../../schema/audit";
import type { CredentialKind } from "../../schema/auth/contract";
import { countAuthFailure } from "../metrics/isolate";
import { refused } from "../refusals";
import { authStore } from "./auth-store";
import { clientIp } from "./principal";
import { hashPassword, PBKDF2_ITERATIONS, timingSafeEqualText } from "./secrets";

// Passwords and one-time codes, checked the same way everywhere (npm login, npm token create,
// two-factor writes): refused with 429 while the user or the client address is locked out after
// too many failures (counted and audited by the AuthStoreDO), and a password is hashed even for a
// user who does not exist, so neither the answer nor its time tells whether the name is taken.

/** An unguessable hash to compare against when there is no user, so every check costs one PBKDF2. */
const NO_USER = { hash: "0".repeat(64), salt: "00000000000000000000000000000000", iterations: PBKDF2_ITERATIONS };

export const lockedOut = refused.lockedOut;

/** Throws 429 while the user or this address may not try a credential. */
export async function assertNotLockedOut(request: Request, env: Env, user: string | null): Promise<void> {
	const wait = await authStore(env).credentialLock(user, clientIp(request, env));
	if (wait > 0) throw lockedOut(wait);
}

/** Counts a failed credential; throws 429 at once when this failure locks the user or address out. */
export async function recordFailure(
	request: Request,
	env: Env,
	user: string | null,
	kind: CredentialKind,
	actor: Actor,
): Promise<void> {
	countAuthFailure(kind, clientIp(request, env), user);
	const wait = await authStore(env).credentialFailed(user, clientIp(request, env), kind, actor);
	if (wait > 0) throw lockedOut(wait);
}

/** Whether the password is the user's (false for a user that does not exist), after the lockout check. */
export async function passwordMatches(request: Request, env: Env, user: string, password: string): Promise<boolean> {
	await assertNotLockedOut(request, env, user);
	const credentials = await authStore(env).userCredentials(user);
	const { hash, salt, iterations } = credentials.ok ? credentials.value : NO_USER;
	const attempt = await hashPassword(password, salt, iterations);
	return (await timingSafeEqualText(attempt, hash)) && credentials.ok;
}
