import type { Actor } from "../../schema/audit";
import type { PackageName } from "../../schema/names";
import { refused } from "../refusals";
import { authStore } from "./auth-store";
import { assertNotLockedOut, recordFailure } from "./credentials";
import { actorOf } from "./permissions";
import type { Principal } from "./principal";

// Two-factor publishing. A write needs a TOTP code (npm sends it as `npm-otp`, after npm prompts on
// a 401 with `WWW-Authenticate: OTP`) when the token's user enabled TOTP, when the package's scope
// is marked requireTwoFactor, or when the package was set to `npm access set mfa=publish`.

const POLICY_CACHE_MS = 60_000;
const scopePolicies = new Map<string, { requireTwoFactor: boolean; until: number }>();

export async function assertSecondFactor(
	request: Request,
	env: Env,
	principal: Principal,
	pkg: PackageName,
	packageRequires: boolean,
): Promise<void> {
	if (principal.kind !== "developer") return; // admins are trusted; customers cannot write
	// A trusted publisher proved itself with its CI's ID token; a person proves presence at approval (npm stage).
	if (principal.trustedPublisher) return;
	const policy = packageRequires || (pkg.scope !== null && (await scopeRequiresTwoFactor(env, pkg.scope)));
	if (!policy && !principal.totp) return;
	// Whatever a token says, a write that needs two-factor needs a user who has it.
	if (!principal.totp || principal.account === null) {
		throw refused.needsTwoFactorUser(pkg.name);
	}
	if (principal.bypassTwoFactor) return;
	await verifyOtp(request, env, principal.account, actorOf(principal));
}

/**
 * Checks the request's `npm-otp` code against a user's TOTP secret; each code works once. Wrong and
 * replayed codes count as failed credentials (credentials.ts): past the limit, 429 with Retry-After.
 */
export async function verifyOtp(request: Request, env: Env, user: string, actor: Actor): Promise<void> {
	const code = request.headers.get("npm-otp");
	if (!code) throw refused.otpMissing();
	await assertNotLockedOut(request, env, user);
	const outcome = await authStore(env).verifyTotp(user, code.trim());
	if (outcome === "valid") return;
	await recordFailure(request, env, user, "otp", actor);
	throw outcome === "replayed" ? refused.otpReplayed() : refused.otpInvalid();
}

async function scopeRequiresTwoFactor(env: Env, scope: string): Promise<boolean> {
	const now = Date.now();
	const cached = scopePolicies.get(scope);
	if (cached && cached.until > now) return cached.requireTwoFactor;
	const { requireTwoFactor } = await authStore(env).scopePolicy(scope);
	scopePolicies.set(scope, { requireTwoFactor, until: now + POLICY_CACHE_MS });
	return requireTwoFactor;
}

/** Drops a scope's cached policy in this isolate (after an admin changed it). */
export function forgetScopePolicy(scope: string): void {
	scopePolicies.delete(scope);
}
