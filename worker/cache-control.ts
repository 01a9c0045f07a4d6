import type { Access } from "../schema/package/contract";

// Every Cache-Control the registry sends, by name, each with the reason for its lifetime. A route
// declares one of these names (`{ auth, cache }`, worker/route-policy.ts) and its guard sets the
// header on whatever the handler answers; no handler writes Cache-Control itself. ARCHITECTURE.md's
// routing table names the same policy per route (checked by tests/architecture.test.ts).

/** What the header can depend on: the package's access, and whether the answer is one client's. */
export type CacheFacts = { access: Access; status: number; perClient: boolean };

const YEAR = "max-age=31536000, immutable";

export const cachePolicy = {
	/** Writes, admin answers, status endpoints: the Worker says nothing (clients do not cache them). */
	none: () => null,
	/** Bytes under never-reused keys (tarballs, files): they can never change. */
	immutable: ({ access }: CacheFacts) => `${access === "public" ? "public" : "private"}, ${YEAR}`,
	/**
	 * Documents that change with every write (packuments, channels): revalidated on every use, so a
	 * publish or a rollback shows at the next install or page load, and an unchanged one costs a 304.
	 * An answer chosen per client (a channel during a rollout) is never for a shared cache.
	 */
	revalidate: ({ access, perClient }: CacheFacts) =>
		perClient ? "private, no-cache" : access === "public" ? "public, no-cache" : "private, no-cache",
	/** Answers that depend on who asks (search, history, audit, downloads, pages): never shared. */
	personal: () => "private, no-cache",
	/** The signing keys: they change only when an operator rotates them, and then old ones stay listed. */
	signingKeys: () => "public, max-age=300",
	/** A form's redirect is never stored (it carries a cookie or follows a change); its refusal page is personal. */
	form: ({ status }: CacheFacts) => (status === 303 ? "no-store" : "private, no-cache"),
	/** A form's answer that may carry a secret shown once (a new token, a TOTP enrolment): no cache keeps it, the browser's included. */
	secret: () => "no-store",
} as const satisfies Record<string, (facts: CacheFacts) => string | null>;

export type CacheName = keyof typeof cachePolicy;

/** The header a policy gives an answer with these facts (defaults: public, 200, shared). */
export function cacheHeader(
	name: CacheName,
	facts: { [K in keyof CacheFacts]?: CacheFacts[K] | undefined } = {},
): string | null {
	// Field by field, not spread: every answer of every route comes through here.
	return cachePolicy[name]({
		access: facts.access ?? "public",
		status: facts.status ?? 200,
		perClient: facts.perClient ?? false,
	});
}
