import type { Actor } from "../../schema/audit";
import type { NewToken } from "../../schema/auth/contract";
import { ok, type Result } from "../../schema/errors";
import { refusals } from "../../schema/refusals";
import type { NewTrust } from "../../schema/trust/contract";
import type { Change } from "./change";
import type { Grants } from "./grants";
import type { Tokens } from "./tokens";
import type { TrustedPublishers } from "./trusted-publishers";

// The AuthStoreDO's changes for trusted publishing (npm trust, the OIDC exchange), each run by the
// store's `change` in one transaction with its audit row and the token pushes it implies.

const MAX_TRUST_PER_PACKAGE = 20;

export function addTrust(
	trust: TrustedPublishers,
	pkg: string,
	configs: NewTrust[],
	actor: Actor,
	now: string,
): Result<Change<{ configurations: ReturnType<TrustedPublishers["of"]> }>> {
	if (trust.count(pkg) + configs.length > MAX_TRUST_PER_PACKAGE) {
		return refusals.tooManyTrustConfigurations(MAX_TRUST_PER_PACKAGE);
	}
	const ids = configs.map((config) => trust.add(pkg, config, actor.label, now));
	const added = trust.of(pkg).filter((config) => ids.includes(config.id));
	return ok({
		value: { configurations: added },
		action: "trust.add",
		target: pkg,
		detail: { configurations: added.map(({ id, type, claims, permissions }) => ({ id, type, claims, permissions })) },
	});
}

export function removeTrust(trust: TrustedPublishers, pkg: string, id: string): Result<Change<{ id: string }>> {
	const removed = trust.remove(pkg, id);
	if (!removed) return refusals.trustNotFound(id);
	return ok({
		value: { id },
		action: "trust.revoke",
		target: pkg,
		detail: { id, type: removed.type, claims: removed.claims },
	});
}

/**
 * A short-lived token for a trusted publisher, in exchange for an ID token that was never
 * exchanged before (`replay.key`, remembered until `replay.expires`, in epoch seconds).
 */
export function exchangeIdToken(
	parts: { trust: TrustedPublishers; tokens: Tokens; grants: Grants },
	replay: { key: string; expires: number },
	input: NewToken,
	now: string,
) {
	const { trust, tokens, grants } = parts;
	if (!trust.rememberExchange(replay.key, replay.expires, Math.floor(Date.parse(now) / 1000))) {
		return refusals.idTokenReplayed();
	}
	tokens.retireExpiredTrusted(now);
	const row = tokens.insert(input, now);
	grants.replace("token", row.id, input.grants);
	return ok({
		value: { token: tokens.listing(row) },
		action: "oidc.exchange",
		target: input.trustedPublisher?.package ?? null,
		detail: { prefix: input.prefix, expiresAt: input.expiresAt, ...input.trustedPublisher },
		tokens: [row.id],
	});
}
