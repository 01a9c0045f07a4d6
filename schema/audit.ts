// The audit trail's shapes, shared by its two owners: each package object records the changes to
// its package, the AuthStoreDO records registry-level events.

import type { Provenance } from "./trust/contract";

/** Who did something, and from where. */
export type Actor = {
	/** The user, or the token's name for tokens without one; "admin" for the admin token. */
	name: string;
	email?: string;
	/** The token's listed prefix (dev_a3f8e2c1), never more of it. */
	prefix: string | null;
	ip: string | null;
	/** How history rows name the actor: `alice (dev_a3f8e2c1)`. */
	label: string;
	/** A trusted publisher (a CI's exchanged ID token): where the change came from. */
	trustedPublisher?: Provenance;
};

/** An audit row as stored; `detail` is JSON text (RPC types cannot carry arbitrary JSON). */
export type AuditEntry = {
	id: number;
	at: string;
	action: string;
	actor: string;
	prefix: string | null;
	ip: string | null;
	target: string | null;
	detail: string | null;
};

export type AuditFilter = {
	actor?: string;
	target?: string;
	since?: string;
	/** Only rows of these actions (the dashboard's failed authentications, refused writes). */
	actions?: string[];
	limit?: number;
};
