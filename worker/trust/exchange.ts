import type { Actor } from "../../schema/audit";
import type { TrustedPublisher } from "../../schema/trust/contract";
import { authStore } from "../auth/auth-store";
import { clientIp, newToken } from "../auth/principal";
import { limitFailedAuthentication } from "../auth/rate-limits";
import { HttpError, unwrap } from "../errors";
import { json, publicBaseUrl } from "../http";
import { packageNameFromParams } from "../params";
import { refused } from "../refusals";
import { route } from "../route-policy";
import { verifyIdToken } from "./id-token";
import { matchTrust, provenanceOf } from "./matching";
import { PUBLISHER_NAMES } from "./trusted-token";

// POST /-/npm/v1/oidc/token/exchange/package/{name}: npm 11 in CI sends its provider's ID token
// as the bearer token and gets a short-lived token for this one package, allowed to publish
// and/or stage as the matching trust configurations say. Every refusal is audited
// (`oidc.refused`, with why) and counts as a failed authentication of the address.

const TOKEN_LIFETIME_MS = 15 * 60_000;

export const exchangeIdToken = route({ auth: "idToken", cache: "none" }, async (request, env) => {
	const pkg = packageNameFromParams(request.params);
	const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get("authorization") ?? "")?.[1];
	if (!bearer) throw refused.idTokenMissing();
	const ip = clientIp(request, env);
	const seen: Record<string, unknown> = {};
	try {
		const audience = `npm:${new URL(publicBaseUrl(request, env)).hostname}`;
		const { issuer, claims } = await verifyIdToken(env, bearer, audience);
		Object.assign(seen, { iss: claims.iss, sub: claims.sub, repository: claims.repository ?? claims.project_path });
		const configs = await authStore(env).trustConfigurations(pkg.name);
		if (configs.length === 0) throw refused.noTrustConfiguration(pkg.name);
		const match = matchTrust(issuer.provider, claims, configs);
		if (!match.ok) throw refused.noMatchingTrust(pkg.name, match.why);
		const [first] = match.configs;
		const permissions = new Set(match.configs.flatMap((config) => config.permissions));
		const trusted: TrustedPublisher = {
			package: pkg.name,
			publish: permissions.has("createPackage"),
			stage: permissions.has("createStagedPackage"),
			provenance: provenanceOf(issuer.provider, claims, first?.id ?? ""),
		};
		const publisher = PUBLISHER_NAMES[issuer.provider];
		const { token, hash, prefix } = await newToken("developer");
		const replayKey = typeof claims.jti === "string" ? `jti:${claims.iss}:${claims.jti}` : `token:${hash}`;
		const actor: Actor = {
			name: publisher.name,
			email: publisher.email,
			prefix,
			ip,
			label: `${publisher.name} (${trusted.provenance.repository})`,
			trustedPublisher: trusted.provenance,
		};
		const expiresAt = new Date(Date.now() + TOKEN_LIFETIME_MS).toISOString();
		unwrap(
			await authStore(env).exchangeIdToken(
				{ key: replayKey, expires: Math.ceil(claims.exp) + 120 },
				{
					hash,
					prefix,
					kind: "developer",
					name: publisher.name,
					origin: "oidc",
					grants: [{ package: pkg.name, permissions: ["read", "upload", "publish"] }],
					expiresAt,
					trustedPublisher: trusted,
				},
				actor,
			),
		);
		return json({ token, expiresAt }, { status: 201 });
	} catch (error) {
		if (error instanceof HttpError && error.status < 500) await refusedExchange(env, ip, pkg.name, error, seen);
		throw error;
	}
});

async function refusedExchange(
	env: Env,
	ip: string | null,
	name: string,
	error: HttpError,
	seen: Record<string, unknown>,
): Promise<void> {
	// Counted first: past the address's limit of failed authentications it is a 429, and not audited again.
	await limitFailedAuthentication(env, ip);
	await authStore(env).audit({ name: "oidc", prefix: null, ip, label: "oidc" }, "oidc.refused", name, {
		why: error.message,
		code: error.code,
		...seen,
	});
}
