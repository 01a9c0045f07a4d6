import type { OrgCaller } from "../../schema/auth/orgs";
import { OrgNameSchema } from "../../schema/requests/orgs";
import { actorOf } from "../auth/permissions";
import type { Principal } from "../auth/principal";
import { verifyOtp } from "../auth/two-factor";
import { decodeParam, validate } from "../http";
import { refused } from "../refusals";

// Who asks, as the auth store's org rules see it (durable-objects/auth/orgs.ts decides what each
// standing may do), and the org a path names.

/** The caller of an org route; `change`: a read-only or limited token may look but not change. */
export function orgCaller(principal: Exclude<Principal, { kind: "anonymous" }>, change: boolean): OrgCaller {
	if (principal.kind === "admin") return { admin: true };
	if (change && (principal.readonly || principal.restricted)) throw refused.limitedTokenCannotManageOrgs();
	return { admin: false, user: principal.kind === "developer" ? principal.account : null };
}

/** `/-/org/{org}/…` and `/-/team/{scope}/…`: the org, with or without its @. */
export function orgParam(raw: string | undefined): string {
	return validate(OrgNameSchema, decodeParam(raw).replace(/^@/, ""));
}

/**
 * The caller of an org change. A user who turned TOTP on confirms every change of membership, teams
 * or grants with a one-time code, as a publish (npm org, npm team and npm access prompt for it).
 */
export async function orgChanger(
	request: Request,
	env: Env,
	principal: Exclude<Principal, { kind: "anonymous" }>,
): Promise<OrgCaller> {
	const caller = orgCaller(principal, true);
	if (principal.kind === "developer" && principal.totp && !principal.bypassTwoFactor && principal.account !== null) {
		await verifyOtp(request, env, principal.account, actorOf(principal));
	}
	return caller;
}
