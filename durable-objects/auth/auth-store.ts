import { DurableObject } from "cloudflare:workers";
import type { Actor, AuditFilter } from "../../schema/audit";
import type {
	AuthStoreContract,
	CredentialKind,
	CustomerView,
	GrantSubject,
	NewToken,
	NewUser,
	Restriction,
	RetentionPolicy,
	ScopePolicy,
	ScopePolicyChange,
	TokenChange,
	TokenRecord,
	TotpOutcome,
	UserView,
} from "../../schema/auth/contract";
import { authStoreMigrations } from "../../schema/auth/migrations";
import type { OrgCaller, OrgRole, OrgSettings, TeamPermission } from "../../schema/auth/orgs";
import type { UserRow } from "../../schema/auth/rows";
import type { AuthRows, DumpCursor } from "../../schema/backup/contract";
import { config } from "../../schema/config";
import { ok, type Result } from "../../schema/errors";
import { refusals } from "../../schema/refusals";
import type { Grant } from "../../schema/requests/admin";
import type { NewTrust, StagedVersion, TrustedPublisher } from "../../schema/trust/contract";
import type { UpstreamActivity } from "../../schema/upstream";
import { queryAudit, recordAudit } from "../audit";
import { applyMigrations } from "../migrations";
import { transact } from "../transaction";
import type { Change } from "./change";
import { CredentialFailures } from "./credential-failures";
import { Customers } from "./customers";
import { exportAuth, restoreAuth } from "./export";
import { effectiveGrants, Grants } from "./grants";
import { Orgs } from "./orgs";
import { Policies } from "./policies";
import { isSealed, seal, unseal } from "./sealing";
import { TokenPushes } from "./token-pushes";
import { Tokens } from "./tokens";
import * as trustChanges from "./trust-changes";
import { StagedIndex, TrustedPublishers } from "./trusted-publishers";
import { UpstreamFigureSums } from "./upstream-figures";
import { newTotpSeed, Users } from "./users";

// The admin plane of access control, one object for the registry (idFromName("auth")): users,
// tokens, customers, grants, two-factor settings and the registry-level audit log. Only hashes
// reach it: the Worker generates tokens and hashes passwords itself. It is not on the hot path:
// every change to what a token may do is pushed to that token's own TokenDO (drained before the
// change is acknowledged, retried on the alarm if a push fails), and requests read those.
// Each change goes through `change`: one transaction, one audit row, the pushes it implies.

export class AuthStoreDO extends DurableObject<Env> implements AuthStoreContract {
	private readonly sql: SqlStorage;
	private readonly grants: Grants;
	private readonly tokens: Tokens;
	private readonly users: Users;
	private readonly customers: Customers;
	private readonly pushes: TokenPushes;
	private readonly failures: CredentialFailures;
	private readonly policies: Policies;
	private readonly upstreamSums: UpstreamFigureSums;
	private readonly trust: TrustedPublishers;
	private readonly staged: StagedIndex;
	private readonly orgs: Orgs;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		this.grants = new Grants(this.sql);
		this.tokens = new Tokens(this.sql, (holder, id) => this.grants.of(holder, id));
		this.users = new Users(this.sql);
		this.customers = new Customers(this.sql);
		this.pushes = new TokenPushes(this.sql, env, (id, hash) => this.recordFor(id, hash));
		this.failures = new CredentialFailures(this.sql);
		this.policies = new Policies(this.sql);
		this.upstreamSums = new UpstreamFigureSums(this.sql);
		this.trust = new TrustedPublishers(this.sql);
		this.staged = new StagedIndex(this.sql);
		this.orgs = new Orgs(
			this.sql,
			(name) => this.users.get(name) !== null,
			(user) => this.tokens.idsOf({ user }),
		);
		ctx.blockConcurrencyWhile(async () => {
			applyMigrations(ctx.storage, authStoreMigrations);
			if (this.pushes.pending) await ctx.storage.setAlarm(Date.now());
		});
	}

	// ── tokens ─────────────────────────────────────────────────────────────────────────────────

	createToken(input: NewToken, actor: Actor) {
		return this.change(actor, (now) => {
			if (input.user !== undefined && !this.users.get(input.user)) return refusals.userNotFound(input.user);
			if (input.customer !== undefined && !this.customers.get(input.customer)) {
				return refusals.customerNotFound(input.customer);
			}
			const row = this.tokens.insert(input, now);
			this.grants.replace("token", row.id, input.grants);
			return ok({
				value: { token: this.tokens.listing(row) },
				action: "token.create",
				target: input.prefix,
				detail: { kind: input.kind, name: input.name, user: input.user },
				tokens: [row.id],
			});
		});
	}

	getToken(id: string) {
		const row = this.tokens.live(id);
		return row ? ok(this.tokens.listing(row)) : refusals.tokenNotFound(id);
	}

	listTokens(filter: { user?: string; customer?: string } = {}) {
		return this.tokens.list(filter).map((row) => this.tokens.listing(row));
	}

	revokeToken(id: string, actor: Actor, owner?: string) {
		return this.change(actor, (now) => {
			const row = this.tokens.live(id);
			if (!row || (owner !== undefined && row.user_name !== owner)) return refusals.tokenNotFound(id);
			this.tokens.revoke(id, now);
			return ok({ value: { id }, action: "token.revoke", target: row.prefix, tokens: [id] });
		});
	}

	revokeTokenByHash(hash: string, actor: Actor, owner?: string) {
		const row = this.tokens.liveByHash(hash);
		return row ? this.revokeToken(row.id, actor, owner) : Promise.resolve(refusals.tokenNotFound("with that secret"));
	}

	rotateToken(id: string, hash: string, prefix: string, actor: Actor) {
		return this.change(actor, () => {
			const row = this.tokens.live(id);
			if (!row) return refusals.tokenNotFound(id);
			this.tokens.replaceSecret(id, hash, prefix);
			return ok({
				value: { token: this.tokens.listing({ ...row, hash, prefix }) },
				action: "token.rotate",
				target: prefix,
				detail: { previous: row.prefix },
				tokens: [id],
				retiredHashes: [row.hash],
			});
		});
	}

	grantToken(id: string, grant: Grant, actor: Actor) {
		return this.change(actor, () => {
			const row = this.tokens.live(id);
			if (!row) return refusals.tokenNotFound(id);
			if (row.kind === "customer" && grant.permissions.some((p) => p !== "read")) {
				return refusals.customerKeysReadOnly();
			}
			this.grants.set("token", id, grant);
			return ok({
				value: { token: this.tokens.listing(row) },
				action: "token.grant",
				target: row.prefix,
				detail: { grant },
				tokens: [id],
			});
		});
	}

	ungrantToken(id: string, subject: GrantSubject, actor: Actor) {
		return this.change(actor, () => {
			const row = this.tokens.live(id);
			if (!row) return refusals.tokenNotFound(id);
			if (!this.grants.remove("token", id, subject)) return refusals.noSuchGrant("token");
			return ok({
				value: { token: this.tokens.listing(row) },
				action: "token.ungrant",
				target: row.prefix,
				detail: { subject },
				tokens: [id],
			});
		});
	}

	tokenUsed(id: string, at: string): void {
		this.tokens.used(id, at);
	}

	// ── users ──────────────────────────────────────────────────────────────────────────────────

	createUser(input: NewUser, actor: Actor) {
		return this.change(actor, (now) => {
			if (this.users.get(input.name)) return refusals.userExists(input.name);
			this.users.insert(input, now);
			this.grants.replace("user", input.name, input.grants);
			return ok({
				value: { user: this.userView(input.name) },
				action: "user.create",
				target: input.name,
				detail: { grants: input.grants },
			});
		});
	}

	getUser(name: string) {
		return this.users.get(name) ? ok(this.userView(name)) : refusals.userNotFound(name);
	}

	listUsers() {
		return this.users.all().map((row) => this.userView(row.name));
	}

	userCredentials(name: string) {
		const row = this.users.get(name);
		if (!row) return refusals.userNotFound(name);
		return ok({
			name: row.name,
			hash: row.password_hash,
			salt: row.password_salt,
			iterations: row.password_iterations,
		});
	}

	grantUser(name: string, grant: Grant, actor: Actor) {
		return this.change(actor, () => {
			if (!this.users.get(name)) return refusals.userNotFound(name);
			this.grants.set("user", name, grant);
			return ok({
				value: { user: this.userView(name) },
				action: "user.grant",
				target: name,
				detail: { grant },
				tokens: this.tokens.idsOf({ user: name }),
			});
		});
	}

	ungrantUser(name: string, subject: GrantSubject, actor: Actor) {
		return this.change(actor, () => {
			if (!this.users.get(name)) return refusals.userNotFound(name);
			if (!this.grants.remove("user", name, subject)) return refusals.noSuchGrant("user");
			return ok({
				value: { user: this.userView(name) },
				action: "user.ungrant",
				target: name,
				detail: { subject },
				tokens: this.tokens.idsOf({ user: name }),
			});
		});
	}

	async setTotp(name: string, enable: boolean, actor: Actor) {
		const fresh = enable ? newTotpSeed(name) : null;
		const sealed = fresh === null ? null : await seal(this.encryptionKey(), fresh.seed);
		return this.change(actor, () => {
			if (!this.users.get(name)) return refusals.userNotFound(name);
			this.users.storeTotp(name, sealed);
			return ok({
				value: { otpauth: fresh?.otpauth ?? null },
				action: enable ? "user.totp.enable" : "user.totp.disable",
				target: name,
				tokens: this.tokens.idsOf({ user: name }),
			});
		});
	}

	async verifyTotp(name: string, code: string): Promise<TotpOutcome> {
		const stored = this.users.get(name)?.totp_secret;
		if (!stored) return "notEnabled";
		const seed = await unseal(this.encryptionKey(), stored);
		// Read again after the await: the answer must rest on the row as it is now (a code used meanwhile).
		const row = this.users.get(name);
		if (row?.totp_secret !== stored) return "invalid";
		const outcome = this.users.checkTotp(row, seed, code);
		// A seed stored before sealing existed is sealed at its first use.
		if (outcome === "valid" && !isSealed(stored)) this.users.reseal(name, await seal(this.encryptionKey(), seed));
		return outcome;
	}

	credentialLock(user: string | null, ip: string | null) {
		return this.failures.lock(user, ip);
	}

	credentialFailed(user: string | null, ip: string | null, kind: CredentialKind, actor: Actor) {
		return this.ctx.storage.transactionSync(() => {
			recordAudit(this.sql, actor, `${kind}.failed`, user, null);
			return this.failures.fail(user, ip);
		});
	}

	collaborators(name: string, scope: string | null) {
		const result: Record<string, "read-write" | "read-only"> = {};
		for (const [user, permissions] of this.grants.usersCovering(name, scope)) {
			result[user] = permissions.some((p) => p !== "read") ? "read-write" : "read-only";
		}
		for (const [user, permission] of this.orgs.usersCovering(name, scope)) {
			if (result[user] !== "read-write") result[user] = permission;
		}
		return result;
	}

	// ── customers and scopes ───────────────────────────────────────────────────────────────────

	createCustomer(name: string, actor: Actor) {
		return this.change(actor, (now) => {
			if (this.customers.get(name)) return refusals.customerExists(name);
			this.customers.insert(name, now);
			return ok({ value: { customer: this.customerView(name) }, action: "customer.create", target: name });
		});
	}

	listCustomers() {
		return this.customers.all().map((row) => this.customerView(row.name));
	}

	setCustomerActive(name: string, active: boolean, actor: Actor) {
		return this.change(actor, () => {
			if (!this.customers.get(name)) return refusals.customerNotFound(name);
			this.customers.setActive(name, active);
			return ok({
				value: { customer: this.customerView(name) },
				action: active ? "customer.activate" : "customer.suspend",
				target: name,
				tokens: this.tokens.idsOf({ customer: name }),
			});
		});
	}

	setScopePolicy(scope: string, change: ScopePolicyChange, actor: Actor) {
		return this.change(actor, () => {
			const current = this.policies.scope(scope);
			this.policies.setScope(scope, {
				require_two_factor:
					change.requireTwoFactor === undefined ? current.require_two_factor : change.requireTwoFactor ? 1 : 0,
				prerelease_retention_days:
					change.prereleaseRetentionDays === undefined
						? current.prerelease_retention_days
						: change.prereleaseRetentionDays,
			});
			return ok({ value: this.scopePolicy(scope), action: "scope.policy", target: scope, detail: change });
		});
	}

	scopePolicy(scope: string): ScopePolicy {
		return this.policies.policy(this.policies.scope(scope));
	}

	scopePolicies(): ScopePolicy[] {
		return this.policies.scopes().map((row) => this.policies.policy(row));
	}

	setDefaultRetention(days: number | null, actor: Actor) {
		return this.change(actor, () => {
			this.policies.setDefaultRetentionDays(days);
			return ok({
				value: { prereleaseRetentionDays: days },
				action: "retention.default",
				target: null,
				detail: { prereleaseRetentionDays: days },
			});
		});
	}

	retentionSettings() {
		return {
			prereleaseRetentionDays: this.policies.defaultRetentionDays(),
			scopes: this.policies.scopesWithRetention().map((row) => this.scopePolicy(row.scope)),
		};
	}

	retentionPolicy(scope: string | null): RetentionPolicy {
		const own = scope === null ? null : this.policies.scope(scope).prerelease_retention_days;
		if (own !== null) return { days: own, source: "scope" };
		const fallback = this.policies.defaultRetentionDays();
		return fallback === null ? { days: null, source: "none" } : { days: fallback, source: "registry" };
	}

	// ── trusted publishing ─────────────────────────────────────────────────────────────────────

	trustConfigurations(pkg: string) {
		return this.trust.of(pkg);
	}

	addTrust(pkg: string, configs: NewTrust[], actor: Actor) {
		return this.change(actor, (now) => trustChanges.addTrust(this.trust, pkg, configs, actor, now));
	}

	removeTrust(pkg: string, id: string, actor: Actor) {
		return this.change(actor, () => trustChanges.removeTrust(this.trust, pkg, id));
	}

	/** A short-lived token for a trusted publisher, for an ID token never exchanged before (trust-changes.ts). */
	exchangeIdToken(replay: { key: string; expires: number }, input: NewToken, actor: Actor) {
		const { trust, tokens, grants } = this;
		return this.change(actor, (now) => trustChanges.exchangeIdToken({ trust, tokens, grants }, replay, input, now));
	}

	indexStaged(item: StagedVersion): void {
		this.staged.add(item);
	}

	stagedVersion(id: string) {
		const item = this.staged.get(id, new Date().toISOString());
		return item ? ok(item) : refusals.stagedNotFound(id);
	}

	stagedVersions(pkg: string | null, limit: number) {
		return this.staged.list(pkg, new Date().toISOString(), limit);
	}

	unindexStaged(ids: string[]): void {
		this.staged.remove(ids);
	}

	// ── orgs and teams (durable-objects/auth/orgs.ts) ─────────────────────────────────────────

	setOrgMember(org: string, user: string, role: OrgRole, caller: OrgCaller, actor: Actor) {
		return this.change(actor, (now) => this.orgs.setMember(org, user, role, caller, now));
	}

	removeOrgMember(org: string, user: string, caller: OrgCaller, actor: Actor) {
		return this.change(actor, () => this.orgs.removeMember(org, user, caller));
	}

	setOrgSettings(org: string, settings: OrgSettings, caller: OrgCaller, actor: Actor) {
		return this.change(actor, () => this.orgs.setSettings(org, settings, caller));
	}

	createTeam(org: string, team: string, description: string | null, caller: OrgCaller, actor: Actor) {
		return this.change(actor, (now) => this.orgs.createTeam(org, team, description, caller, now));
	}

	destroyTeam(org: string, team: string, caller: OrgCaller, actor: Actor) {
		return this.change(actor, () => this.orgs.destroyTeam(org, team, caller));
	}

	addTeamMember(org: string, team: string, user: string, caller: OrgCaller, actor: Actor) {
		return this.change(actor, () => this.orgs.addTeamMember(org, team, user, caller));
	}

	removeTeamMember(org: string, team: string, user: string, caller: OrgCaller, actor: Actor) {
		return this.change(actor, () => this.orgs.removeTeamMember(org, team, user, caller));
	}

	grantTeam(
		org: string,
		team: string,
		subject: GrantSubject,
		permission: TeamPermission,
		caller: OrgCaller,
		actor: Actor,
	) {
		return this.change(actor, () => this.orgs.grant(org, team, subject, permission, caller));
	}

	revokeTeam(org: string, team: string, subject: GrantSubject, caller: OrgCaller, actor: Actor) {
		return this.change(actor, () => this.orgs.revoke(org, team, subject, caller));
	}

	org(org: string, caller: OrgCaller) {
		return this.orgs.view(org, caller);
	}

	orgGrantsOf(user: string) {
		return this.orgs.grantsOf(user);
	}

	orgsOf(user: string) {
		return this.orgs.orgsOf(user);
	}

	listOrgs() {
		return this.orgs.names();
	}

	// ── audit ──────────────────────────────────────────────────────────────────────────────────

	audit(actor: Actor, action: string, target: string | null, detail: Record<string, unknown> | null): void {
		recordAudit(this.sql, actor, action, target, detail);
	}

	auditLog(filter: AuditFilter) {
		return queryAudit(this.sql, filter);
	}

	// ── upstream figures ───────────────────────────────────────────────────────────────────────

	recordUpstreamActivity(upstream: string, activity: UpstreamActivity): void {
		this.upstreamSums.add(upstream, activity);
	}

	upstreamFigures() {
		return this.upstreamSums.all();
	}

	// ── export and restore (export.ts) ──────────────────────────────────────────────────────────

	exportRows(cursor: DumpCursor) {
		return exportAuth(this.sql, this.encryptionKey(), cursor);
	}

	/** Adds what is not here; every restored token's record is pushed to its TokenDO before this answers. */
	async restoreRows(item: AuthRows) {
		const result = transact(this.ctx.storage, () => {
			const restored = restoreAuth(this.sql, item);
			if (restored.ok)
				for (const token of restored.value.tokens) this.pushes.queue(token.hash, token.id, token.version);
			return restored;
		});
		if (result.ok) await this.drainPushes();
		return result.ok ? ok(result.value.restored) : result;
	}

	/** Retries pushes that failed when their change was made, and pushes the rest of a long queue. */
	// ── the write path ─────────────────────────────────────────────────────────────────────────

	override async alarm(): Promise<void> {
		await this.drainPushes();
	}

	private async drainPushes(): Promise<void> {
		const next = await this.pushes.drain();
		if (next !== null) await this.ctx.storage.setAlarm(Date.now() + next);
	}

	/**
	 * A change, as one transaction with its audit row and the pushes it implies; the pushes are
	 * drained before it answers, so the change is in force when the caller hears of it.
	 */
	private async change<T>(actor: Actor, body: (now: string) => Result<Change<T>>): Promise<Result<TokenChange<T>>> {
		const result = transact(this.ctx.storage, (): Result<TokenChange<T>> => {
			const changed = body(new Date().toISOString());
			if (!changed.ok) return changed;
			const { value, action, target, detail, tokens = [], retiredHashes = [] } = changed.value;
			const changedTokens = tokens.flatMap((id) => {
				const { hash, version } = this.tokens.bumpVersion(id);
				for (const retired of [hash, ...retiredHashes]) this.pushes.queue(retired, id, version);
				return [hash, ...retiredHashes];
			});
			recordAudit(this.sql, actor, action, target, detail ?? null);
			return ok({ ...value, changedTokens });
		});
		if (result.ok) await this.drainPushes();
		return result;
	}

	/** What the TokenDO for `hash` should hold: null unless it is the token's live hash. */
	private recordFor(id: string, hash: string): TokenRecord | null {
		const row = this.tokens.any(id);
		if (!row || row.hash !== hash || row.revoked_at !== null) return null;
		if (row.customer !== null && this.customers.get(row.customer)?.active !== 1) return null;
		const user = row.user_name === null ? null : this.users.get(row.user_name);
		const all = [
			...this.grants.of("token", id),
			...(user ? [...this.grants.of("user", user.name), ...this.orgs.grantsOf(user.name)] : []),
		];
		const restriction = row.restrict_to === null ? null : (JSON.parse(row.restrict_to) as Restriction);
		return {
			id: row.id,
			kind: row.kind,
			prefix: row.prefix,
			name: row.name,
			user: row.user_name,
			email: user?.email ?? null,
			customer: row.customer,
			grants: effectiveGrants(all, restriction, row.readonly === 1 || row.kind === "customer"),
			expiresAt: row.expires_at,
			cidr: row.cidr === null ? null : (JSON.parse(row.cidr) as string[]),
			totp: user?.totp_secret != null,
			bypassTwoFactor: row.bypass_two_factor === 1,
			readonly: row.readonly === 1 || row.kind === "customer",
			restricted: restriction !== null,
			createdAt: row.created_at,
			trustedPublisher: row.trusted_publisher === null ? null : (JSON.parse(row.trusted_publisher) as TrustedPublisher),
		};
	}

	private encryptionKey(): string {
		const key = config(this.env).encryptionKey;
		// The Worker answers 503 for every route before an object is asked while a secret is missing.
		if (key === null) throw new Error("ENCRYPTION_KEY is not configured");
		return key;
	}

	private userView(name: string): UserView {
		const { email, totp_secret, created_at } = this.users.get(name) as UserRow;
		const grants = this.grants.of("user", name);
		return { name, email, grants, twoFactor: totp_secret !== null, createdAt: created_at };
	}

	private customerView(name: string): CustomerView {
		const row = this.customers.get(name);
		return {
			name,
			active: row?.active === 1,
			createdAt: row?.created_at ?? "",
			keys: this.tokens.countOfCustomer(name),
		};
	}
}
