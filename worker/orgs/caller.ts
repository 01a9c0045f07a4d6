import type { OrgCaller } from "../../schema/auth/orgs";
import { OrgNameSchema } from "../../schema/requests/orgs";
import type { Principal } from "../auth/principal";
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
