import type { Actor, AuditEntry, AuditFilter } from "../audit";
import type { Result } from "../errors";
import type { Grant, TokenKind } from "../requests/admin";
import type { NewTrust, StagedVersion, TrustConfiguration, TrustedPublisher } from "../trust/contract";
import type { UpstreamActivity } from "../upstream";
import type { OrgsContract } from "./orgs";

// The RPC contracts of the access-control objects: the AuthStoreDO (one for the registry: users,
// tokens, grants, customers, two-factor, the registry audit log) and the TokenDOs (one per token
// hash: what a request checks). The AuthStoreDO sees only hashes, never a secret.

export type GrantHolder = "token" | "user";
export type GrantSubject = { package: string } | { scope: string };
/** npm granular tokens: a token limited to some of its user's packages and scopes. */
export type Restriction = { packages: string[]; scopes: string[] };

/** Everything a request needs to know about the token it carries (kept in the token's TokenDO). */
export type TokenRecord = {
	id: string;
	kind: TokenKind;
	prefix: string;
	name: string;
	/** The user the token acts for (npm login, npm token create), if any. */
	user: string | null;
	email: string | null;
	customer: string | null;
	/** Effective grants: the token's own, its user's and those of its user's orgs and teams, narrowed by its restrictions. */
	grants: Grant[];
	expiresAt: string | null;
	/** CIDR ranges the token may be used from; null: anywhere. */
	cidr: string[] | null;
	/** The token's user has TOTP enabled: writes need a code from it. */
	totp: boolean;
	/** Created by its user (with a code) to skip two-factor prompts, e.g. for CI. */
	bypassTwoFactor: boolean;
	/** Read-only, or limited to some of its user's packages and scopes (npm granular tokens). */
	readonly: boolean;
	restricted: boolean;
	createdAt: string;
	/** Exchanged for a CI's ID token (trusted publishing): one package, publish and/or stage only. */
	trustedPublisher?: TrustedPublisher | null;
};

/** A token as the admin API and `npm token list` show it: never the secret or its hash. */
export type TokenListing = {
	id: string;
	prefix: string;
	kind: TokenKind;
	name: string;
	user: string | null;
	customer: string | null;
	origin: TokenOrigin;
	grants: Grant[];
	readonly: boolean;
	cidr: string[] | null;
	createdAt: string;
	expiresAt: string | null;
	lastUsedAt: string | null;
};

/** Where a token came from: the admin API, `npm login`, `npm token create`, or an exchanged ID token. */
export type TokenOrigin = "admin" | "login" | "npm" | "oidc";

export type NewToken = {
	hash: string;
	prefix: string;
	kind: TokenKind;
	name: string;
	origin?: TokenOrigin;
	user?: string;
	customer?: string;
	grants: Grant[];
	expiresAt?: string;
	cidr?: string[];
	readonly?: boolean;
	restrictTo?: Restriction;
	bypassTwoFactor?: boolean;
	trustedPublisher?: TrustedPublisher;
};

export type UserView = { name: string; email: string | null; grants: Grant[]; twoFactor: boolean; createdAt: string };
export type UserCredentials = { name: string; hash: string; salt: string; iterations: number };
export type NewUser = {
	name: string;
	email?: string;
	passwordHash: string;
	salt: string;
	iterations: number;
	grants: Grant[];
};
export type CustomerView = { name: string; active: boolean; createdAt: string; keys: number };
export type ScopePolicy = {
	scope: string;
	requireTwoFactor: boolean;
	/** Days pre-release versions of the scope are kept; null: the registry's default. */
	prereleaseRetentionDays: number | null;
};
export type ScopePolicyChange = { requireTwoFactor?: boolean; prereleaseRetentionDays?: number | null };
/** Which retention applies to a package, and why. */
export type RetentionPolicy = { days: number | null; source: "scope" | "registry" | "none" };
export type TotpOutcome = "valid" | "invalid" | "replayed" | "notEnabled";
/**
 * What a failed credential was, as the audit trail names it (`{kind}.failed`): a password at npm
 * login, a password elsewhere (npm token create), a one-time code.
 */
export type CredentialKind = "login" | "password" | "otp";

/**
 * The answer of every change made in the store: `changedTokens` are the hashes of the tokens whose
 * records it changed, so that the Worker's client of the store forgets them from its cache at once.
 */
export type TokenChange<T> = T & { changedTokens: string[] };

export interface AuthStoreContract extends OrgsContract {
	createToken(input: NewToken, actor: Actor): Promise<Result<TokenChange<{ token: TokenListing }>>>;
	getToken(id: string): Result<TokenListing>;
	listTokens(filter: { user?: string; customer?: string }): TokenListing[];
	/** Revokes a token by id; `owner` limits it to one user's tokens (npm token revoke). */
	revokeToken(id: string, actor: Actor, owner?: string): Promise<Result<TokenChange<{ id: string }>>>;
	/** npm logout and npm token revoke {token}: revokes the token with this hash. */
	revokeTokenByHash(hash: string, actor: Actor, owner?: string): Promise<Result<TokenChange<{ id: string }>>>;
	/** A new secret for the same token; the old one stops working at once. */
	rotateToken(
		id: string,
		hash: string,
		prefix: string,
		actor: Actor,
	): Promise<Result<TokenChange<{ token: TokenListing }>>>;
	grantToken(id: string, grant: Grant, actor: Actor): Promise<Result<TokenChange<{ token: TokenListing }>>>;
	ungrantToken(id: string, subject: GrantSubject, actor: Actor): Promise<Result<TokenChange<{ token: TokenListing }>>>;
	/** Reported by a TokenDO, at most every few minutes per token. */
	tokenUsed(id: string, at: string): void;

	createUser(input: NewUser, actor: Actor): Promise<Result<TokenChange<{ user: UserView }>>>;
	getUser(name: string): Result<UserView>;
	listUsers(): UserView[];
	userCredentials(name: string): Result<UserCredentials>;
	grantUser(name: string, grant: Grant, actor: Actor): Promise<Result<TokenChange<{ user: UserView }>>>;
	ungrantUser(name: string, subject: GrantSubject, actor: Actor): Promise<Result<TokenChange<{ user: UserView }>>>;
	/** Turns TOTP on (with a fresh secret, returned once as an otpauth:// URI) or off. */
	setTotp(name: string, enable: boolean, actor: Actor): Promise<Result<TokenChange<{ otpauth: string | null }>>>;
	/** Checks a TOTP code; a code is accepted once. */
	verifyTotp(name: string, code: string): Promise<TotpOutcome>;
	/**
	 * Seconds until a user or an address may try a password or one-time code again (0: now). Past
	 * too many failures in a window both are locked out until the window ends, whoever asks.
	 */
	credentialLock(user: string | null, ip: string | null): number;
	/** Counts and audits a failed password or code; answers the lock it leads to (0: none yet). */
	credentialFailed(user: string | null, ip: string | null, kind: CredentialKind, actor: Actor): number;
	/** npm access ls-collaborators: users whose grants cover the package. */
	collaborators(name: string, scope: string | null): Record<string, "read-write" | "read-only">;

	createCustomer(name: string, actor: Actor): Promise<Result<TokenChange<{ customer: CustomerView }>>>;
	listCustomers(): CustomerView[];
	/** Suspends (or reactivates) every key of a customer at once. */
	setCustomerActive(
		name: string,
		active: boolean,
		actor: Actor,
	): Promise<Result<TokenChange<{ customer: CustomerView }>>>;
	setScopePolicy(scope: string, change: ScopePolicyChange, actor: Actor): Promise<Result<TokenChange<ScopePolicy>>>;
	scopePolicy(scope: string): ScopePolicy;
	/** Every scope with a policy of its own, by name. */
	scopePolicies(): ScopePolicy[];
	/** The registry-wide retention of pre-release versions (null: off), for packages of no scope with its own. */
	setDefaultRetention(
		days: number | null,
		actor: Actor,
	): Promise<Result<TokenChange<{ prereleaseRetentionDays: number | null }>>>;
	retentionSettings(): { prereleaseRetentionDays: number | null; scopes: ScopePolicy[] };
	/** The retention a package of this scope (null: unscoped) is under. */
	retentionPolicy(scope: string | null): RetentionPolicy;

	/** npm trust list: the package's trust configurations. */
	trustConfigurations(pkg: string): TrustConfiguration[];
	addTrust(
		pkg: string,
		configs: NewTrust[],
		actor: Actor,
	): Promise<Result<TokenChange<{ configurations: TrustConfiguration[] }>>>;
	removeTrust(pkg: string, id: string, actor: Actor): Promise<Result<TokenChange<{ id: string }>>>;
	/** Creates a trusted publisher's token unless this ID token was exchanged before. */
	exchangeIdToken(
		replay: { key: string; expires: number },
		input: NewToken,
		actor: Actor,
	): Promise<Result<TokenChange<{ token: TokenListing }>>>;
	/** The index of staged versions by id (the versions are in their package objects). */
	indexStaged(item: StagedVersion): void;
	stagedVersion(id: string): Result<StagedVersion>;
	stagedVersions(pkg: string | null, limit: number): StagedVersion[];
	unindexStaged(ids: string[]): void;

	/** Registry-level events the Worker observes, such as failed authentications on writes. */
	audit(actor: Actor, action: string, target: string | null, detail: Record<string, unknown> | null): void;
	auditLog(filter: AuditFilter): AuditEntry[];

	/** Sent by the package objects from their alarms: what they did with one upstream since last time. */
	recordUpstreamActivity(upstream: string, activity: UpstreamActivity): void;
	/** The sums per upstream (GET /-/admin/upstream). */
	upstreamFigures(): UpstreamFigures[];
}

/** One upstream's figures, as GET /-/admin/upstream shows them. */
export type UpstreamFigures = Omit<UpstreamActivity, "lastError"> & {
	upstream: string;
	lastError: { message: string; at: string; package: string } | null;
};

export interface TokenContract {
	/** Stores the record (null: the token no longer works) unless a newer version is already here. */
	put(record: TokenRecord | null, version: number): boolean;
	/** The token's record; refused when it is unknown, revoked, suspended or expired. */
	get(): Result<TokenRecord>;
	/** A web session acting with this token signed out (`expires`: when it would have ended anyway, in epoch seconds). */
	endSession(id: string, expires: number): void;
	/** Whether that session signed out. */
	sessionEnded(id: string): boolean;
}
