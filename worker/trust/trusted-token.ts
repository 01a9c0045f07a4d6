import type { OidcProvider } from "../../schema/config";
import type { PackageName } from "../../schema/names";
import type { Principal } from "../auth/principal";
import { refused } from "../refusals";

// A token exchanged for a CI's ID token is narrow: its grant covers one package, and it may be
// used only on the routes that publish (npm publish) or stage (npm stage publish), as its trust
// configuration allows. Every package write checks it here (worker/guards.ts `packageWrite`).

export type TrustedUse = "publish" | "stage";

export function assertTrustedPublisherMay(principal: Principal, pkg: PackageName, use: TrustedUse | undefined): void {
	if (principal.kind !== "developer" || !principal.trustedPublisher) return;
	const trusted = principal.trustedPublisher;
	if (use === undefined || trusted.package !== pkg.name) throw refused.trustedPublisherOnly(trusted.package);
	if (use === "publish" && !trusted.publish) throw refused.trustedPublisherCannotPublish(pkg.name);
	if (use === "stage" && !trusted.stage) throw refused.trustedPublisherCannotStage(pkg.name);
}

/** Whether the principal is a trusted publisher's token (which may not approve, reject or configure anything). */
export function isTrustedPublisher(principal: Principal): boolean {
	return principal.kind === "developer" && Boolean(principal.trustedPublisher);
}

/** How `_npmUser` names a trusted publisher, as the public registry does. */
export const PUBLISHER_NAMES: Record<OidcProvider, { name: string; email: string }> = {
	github: { name: "GitHub Actions", email: "npm-oidc-no-reply@github.com" },
	gitlab: { name: "GitLab CI/CD", email: "npm-oidc-no-reply@gitlab.com" },
	circleci: { name: "CircleCI", email: "npm-oidc-no-reply@circleci.com" },
};
