import type { TokenKind } from "../requests/admin";
import type { TokenOrigin } from "./contract";

// Row types of the AuthStoreDO's SQLite tables (schema/auth/migrations.ts).

export type TokenRow = {
	id: string;
	hash: string;
	prefix: string;
	kind: TokenKind;
	name: string;
	user_name: string | null;
	customer: string | null;
	origin: TokenOrigin;
	created_at: string;
	expires_at: string | null;
	revoked_at: string | null;
	last_used_at: string | null;
	cidr: string | null;
	readonly: number;
	restrict_to: string | null;
	bypass_two_factor: number;
	version: number;
	/** JSON TrustedPublisher: the token was exchanged for a CI's ID token. */
	trusted_publisher: string | null;
};

export type UserRow = {
	name: string;
	email: string | null;
	password_hash: string;
	password_salt: string;
	password_iterations: number;
	created_at: string;
	totp_secret: string | null;
	totp_last_step: number | null;
};

export type CustomerRow = { name: string; active: number; created_at: string };

export type GrantRow = { subject_kind: "package" | "scope"; subject: string; permissions: string };

export type TokenPushRow = { hash: string; token_id: string; version: number };

export type UpstreamFiguresRow = {
	upstream: string;
	document_hits: number;
	document_misses: number;
	tarball_hits: number;
	tarball_misses: number;
	failures: number;
	last_error: string | null;
	last_error_at: string | null;
	last_error_package: string | null;
	documents: number;
	document_bytes: number;
	tarballs: number;
	tarball_bytes: number;
};

export type OrgRow = { name: string; members_read: number; created_at: string };
export type OrgMemberRow = { org: string; user_name: string; role: "owner" | "admin" | "developer"; added_at: string };
export type TeamRow = { org: string; name: string; description: string | null; created_at: string };
export type TeamGrantRow = {
	org: string;
	team: string;
	subject_kind: "package" | "scope";
	subject: string;
	permissions: "read-only" | "read-write";
};
