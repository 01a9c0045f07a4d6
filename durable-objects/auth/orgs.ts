import type { GrantSubject } from "../../schema/auth/contract";
import type {
	Membership,
	OrgCaller,
	OrgRole,
	OrgSettings,
	OrgView,
	TeamGrant,
	TeamPermission,
	TeamView,
} from "../../schema/auth/orgs";
import type { OrgMemberRow, OrgRow, TeamGrantRow, TeamRow } from "../../schema/auth/rows";
import { ok, type Result } from "../../schema/errors";
import { refusals } from "../../schema/refusals";
import type { Grant, Permission } from "../../schema/requests/admin";
import type { Change } from "./change";

// Orgs, their members and teams, and the team grants, in the AuthStoreDO (schema/auth/orgs.ts).
// Every method here runs inside one of the store's changes: it checks the caller's standing in the
// org, changes rows, and names the tokens whose records change (every token of every user whose
// grants it touches), so the store pushes them before it answers.

const READ_WRITE: Permission[] = ["read", "upload", "publish"];

/** The caller's standing in an org: the registry's admin, a role, or nothing (not a member). */
type Standing = "registry" | OrgRole | null;

export class Orgs {
	constructor(
		private readonly sql: SqlStorage,
		private readonly userExists: (name: string) => boolean,
		private readonly tokensOf: (user: string) => string[],
	) {}

	// ── what users may do ──────────────────────────────────────────────────────────────────────

	/** A user's grants from their orgs: their role's, and their teams'. */
	grantsOf(user: string): Grant[] {
		const grants: Grant[] = [];
		const memberships = this.sql
			.exec<OrgMemberRow & { members_read: number }>(
				`SELECT m.*, o.members_read FROM org_members m JOIN orgs o ON o.name = m.org WHERE m.user_name = ?`,
				user,
			)
			.toArray();
		for (const m of memberships) {
			if (m.role !== "developer") grants.push({ scope: `@${m.org}`, permissions: READ_WRITE });
			else if (m.members_read === 1) grants.push({ scope: `@${m.org}`, permissions: ["read"] });
		}
		const teamGrants = this.sql
			.exec<TeamGrantRow>(
				`SELECT g.* FROM team_grants g JOIN team_members t ON t.org = g.org AND t.team = g.team
				 WHERE t.user_name = ? ORDER BY g.subject`,
				user,
			)
			.toArray();
		for (const g of teamGrants) {
			const permissions: Permission[] = g.permissions === "read-write" ? READ_WRITE : ["read"];
			grants.push(
				g.subject_kind === "package" ? { package: g.subject, permissions } : { scope: g.subject, permissions },
			);
		}
		return grants;
	}

	/** Users whose role or teams cover a package of an org's scope (npm access list collaborators). */
	usersCovering(name: string, scope: string | null): Map<string, TeamPermission> {
		const users = new Map<string, TeamPermission>();
		if (scope === null) return users;
		const add = (user: string, permission: TeamPermission) => {
			if (users.get(user) !== "read-write") users.set(user, permission);
		};
		const members = this.sql
			.exec<OrgMemberRow & { members_read: number }>(
				`SELECT m.*, o.members_read FROM org_members m JOIN orgs o ON o.name = m.org WHERE m.org = ?`,
				scope.slice(1),
			)
			.toArray();
		for (const m of members) {
			if (m.role !== "developer") add(m.user_name, "read-write");
			else if (m.members_read === 1) add(m.user_name, "read-only");
		}
		const covering = this.sql
			.exec<{ user_name: string; permissions: TeamPermission }>(
				`SELECT t.user_name, g.permissions FROM team_grants g JOIN team_members t ON t.org = g.org AND t.team = g.team
				 WHERE g.org = ? AND ((g.subject_kind = 'package' AND g.subject = ?) OR (g.subject_kind = 'scope' AND g.subject = ?))`,
				scope.slice(1),
				name,
				scope,
			)
			.toArray();
		for (const row of covering) add(row.user_name, row.permissions);
		return users;
	}

	// ── membership ─────────────────────────────────────────────────────────────────────────────

	setMember(org: string, user: string, role: OrgRole, caller: OrgCaller, now: string): Result<Change<Membership>> {
		const standing = this.standing(org, caller);
		if (!this.get(org)) {
			if (standing !== "registry") return refusals.orgNotFound(org);
			if (role !== "owner") return refusals.orgStartsWithOwner(org);
		} else {
			const refused = this.mayManage(org, standing);
			if (refused) return refused;
		}
		if (!this.userExists(user)) return refusals.userNotFound(user);
		const current = this.roleOf(org, user);
		if (standing === "admin" && (role !== "developer" || (current !== null && current !== "developer"))) {
			return refusals.adminsManageDevelopers(org);
		}
		if (current === "owner" && role !== "owner" && this.owners(org) === 1) return refusals.lastOwner(org);
		this.sql.exec(`INSERT INTO orgs (name, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, org, now);
		this.sql.exec(
			`INSERT INTO org_members (org, user_name, role, added_at) VALUES (?, ?, ?, ?)
			 ON CONFLICT DO UPDATE SET role = excluded.role`,
			org,
			user,
			role,
			now,
		);
		return ok({
			value: { org: { name: org, size: this.size(org) }, user, role },
			action: current === null ? "org.member.add" : "org.member.role",
			target: `@${org}`,
			detail: { user, role, ...(current === null ? {} : { previous: current }) },
			tokens: this.tokensOf(user),
		});
	}

	removeMember(org: string, user: string, caller: OrgCaller): Result<Change<{ org: string; user: string }>> {
		const standing = this.standing(org, caller);
		const leaving = !caller.admin && caller.user === user;
		if (!leaving) {
			const refused = this.mayManage(org, standing);
			if (refused) return refused;
		} else if (standing === null) return refusals.orgNotFound(org);
		const current = this.roleOf(org, user);
		if (current === null) return refusals.notAMember(org, user);
		if (standing === "admin" && !leaving && current !== "developer") return refusals.adminsManageDevelopers(org);
		if (current === "owner" && this.owners(org) === 1) return refusals.lastOwner(org);
		this.sql.exec(`DELETE FROM team_members WHERE org = ? AND user_name = ?`, org, user);
		this.sql.exec(`DELETE FROM org_members WHERE org = ? AND user_name = ?`, org, user);
		return ok({
			value: { org, user },
			action: "org.member.remove",
			target: `@${org}`,
			detail: { user, role: current },
			tokens: this.tokensOf(user),
		});
	}

	setSettings(org: string, settings: OrgSettings, caller: OrgCaller): Result<Change<OrgSettings>> {
		const standing = this.standing(org, caller);
		if (standing === null) return refusals.orgNotFound(org);
		if (standing !== "registry" && standing !== "owner") return refusals.orgRoleNeeded(org, "owners");
		this.sql.exec(`UPDATE orgs SET members_read = ? WHERE name = ?`, settings.membersRead ? 1 : 0, org);
		return ok({
			value: settings,
			action: "org.settings",
			target: `@${org}`,
			detail: settings,
			tokens: this.memberTokens(org),
		});
	}

	// ── teams ──────────────────────────────────────────────────────────────────────────────────

	createTeam(
		org: string,
		team: string,
		description: string | null,
		caller: OrgCaller,
		now: string,
	): Result<Change<{ name: string; description: string | null }>> {
		const refused = this.mayManage(org, this.standing(org, caller));
		if (refused) return refused;
		if (this.team(org, team)) return refusals.teamExists(`${org}:${team}`);
		this.sql.exec(
			`INSERT INTO teams (org, name, description, created_at) VALUES (?, ?, ?, ?)`,
			org,
			team,
			description,
			now,
		);
		return ok({
			value: { name: `${org}:${team}`, description },
			action: "team.create",
			target: `@${org}`,
			detail: { team, ...(description === null ? {} : { description }) },
		});
	}

	destroyTeam(org: string, team: string, caller: OrgCaller): Result<Change<{ name: string }>> {
		const refused = this.teamChange(org, team, caller);
		if (refused) return refused;
		const tokens = this.teamTokens(org, team);
		for (const table of ["team_grants", "team_members"]) {
			this.sql.exec(`DELETE FROM ${table} WHERE org = ? AND team = ?`, org, team);
		}
		this.sql.exec(`DELETE FROM teams WHERE org = ? AND name = ?`, org, team);
		return ok({
			value: { name: `${org}:${team}` },
			action: "team.destroy",
			target: `@${org}`,
			detail: { team },
			tokens,
		});
	}

	addTeamMember(org: string, team: string, user: string, caller: OrgCaller): Result<Change<{ user: string }>> {
		const refused = this.teamChange(org, team, caller);
		if (refused) return refused;
		if (this.roleOf(org, user) === null) return refusals.notAMember(org, user);
		this.sql.exec(`INSERT OR IGNORE INTO team_members (org, team, user_name) VALUES (?, ?, ?)`, org, team, user);
		return ok({
			value: { user },
			action: "team.member.add",
			target: `@${org}`,
			detail: { team, user },
			tokens: this.tokensOf(user),
		});
	}

	removeTeamMember(org: string, team: string, user: string, caller: OrgCaller): Result<Change<{ user: string }>> {
		const refused = this.teamChange(org, team, caller);
		if (refused) return refused;
		const removed = this.sql
			.exec(`DELETE FROM team_members WHERE org = ? AND team = ? AND user_name = ? RETURNING 1`, org, team, user)
			.toArray();
		if (removed.length === 0) return refusals.notInTeam(`${org}:${team}`, user);
		return ok({
			value: { user },
			action: "team.member.remove",
			target: `@${org}`,
			detail: { team, user },
			tokens: this.tokensOf(user),
		});
	}

	grant(
		org: string,
		team: string,
		subject: GrantSubject,
		permission: TeamPermission,
		caller: OrgCaller,
	): Result<Change<{ grant: TeamGrant }>> {
		const refused = this.teamChange(org, team, caller);
		if (refused) return refused;
		const [kind, name] = "package" in subject ? ["package", subject.package] : ["scope", subject.scope];
		const inOrg = kind === "package" ? name.startsWith(`@${org}/`) : name === `@${org}`;
		if (!inOrg) return refusals.grantOutsideOrg(org, name);
		this.sql.exec(
			`INSERT INTO team_grants (org, team, subject_kind, subject, permissions) VALUES (?, ?, ?, ?, ?)
			 ON CONFLICT DO UPDATE SET permissions = excluded.permissions`,
			org,
			team,
			kind,
			name,
			permission,
		);
		const grant: TeamGrant = kind === "package" ? { package: name, permission } : { scope: name, permission };
		return ok({
			value: { grant },
			action: "team.grant",
			target: `@${org}`,
			detail: { team, grant },
			tokens: this.teamTokens(org, team),
		});
	}

	revoke(org: string, team: string, subject: GrantSubject, caller: OrgCaller): Result<Change<object>> {
		const refused = this.teamChange(org, team, caller);
		if (refused) return refused;
		const [kind, name] = "package" in subject ? ["package", subject.package] : ["scope", subject.scope];
		const removed = this.sql
			.exec(
				`DELETE FROM team_grants WHERE org = ? AND team = ? AND subject_kind = ? AND subject = ? RETURNING 1`,
				org,
				team,
				kind,
				name,
			)
			.toArray();
		if (removed.length === 0) return refusals.noTeamGrant(`${org}:${team}`, name);
		return ok({
			value: {},
			action: "team.revoke",
			target: `@${org}`,
			detail: { team, subject },
			tokens: this.teamTokens(org, team),
		});
	}

	// ── views ──────────────────────────────────────────────────────────────────────────────────

	view(org: string, caller: OrgCaller): Result<OrgView> {
		const row = this.get(org);
		if (!row || this.standing(org, caller) === null) return refusals.orgNotFound(org);
		const members = this.sql
			.exec<OrgMemberRow>(`SELECT * FROM org_members WHERE org = ? ORDER BY user_name`, org)
			.toArray();
		const teams = this.sql.exec<TeamRow>(`SELECT * FROM teams WHERE org = ? ORDER BY name`, org).toArray();
		return ok({
			name: org,
			scope: `@${org}`,
			createdAt: row.created_at,
			membersRead: row.members_read === 1,
			members: Object.fromEntries(members.map((m) => [m.user_name, m.role])),
			teams: teams.map((t) => this.teamView(t)),
		});
	}

	orgsOf(user: string): { org: string; role: OrgRole }[] {
		return this.sql
			.exec<OrgMemberRow>(`SELECT * FROM org_members WHERE user_name = ? ORDER BY org`, user)
			.toArray()
			.map((m) => ({ org: m.org, role: m.role }));
	}

	names(): string[] {
		return this.sql
			.exec<{ name: string }>(`SELECT name FROM orgs ORDER BY name`)
			.toArray()
			.map((r) => r.name);
	}

	// ── rules ──────────────────────────────────────────────────────────────────────────────────

	private standing(org: string, caller: OrgCaller): Standing {
		if (caller.admin) return "registry";
		return caller.user === null ? null : this.roleOf(org, caller.user);
	}

	/** Owners manage members, teams and grants; admins manage teams, grants and developers' membership. */
	private mayManage(org: string, standing: Standing): Result<never> | null {
		if (standing === null || !this.get(org)) return refusals.orgNotFound(org);
		// Developers change nothing; admins' limits on membership are checked by the caller.
		if (standing === "developer") return refusals.orgRoleNeeded(org, "owners and admins");
		return null;
	}

	private teamChange(org: string, team: string, caller: OrgCaller): Result<never> | null {
		const refused = this.mayManage(org, this.standing(org, caller));
		if (refused) return refused;
		return this.team(org, team) ? null : refusals.teamNotFound(`${org}:${team}`);
	}

	private get(org: string): OrgRow | null {
		return this.sql.exec<OrgRow>(`SELECT * FROM orgs WHERE name = ?`, org).toArray()[0] ?? null;
	}

	private team(org: string, team: string): TeamRow | null {
		return this.sql.exec<TeamRow>(`SELECT * FROM teams WHERE org = ? AND name = ?`, org, team).toArray()[0] ?? null;
	}

	private roleOf(org: string, user: string): OrgRole | null {
		return (
			this.sql
				.exec<{ role: OrgRole }>(`SELECT role FROM org_members WHERE org = ? AND user_name = ?`, org, user)
				.toArray()[0]?.role ?? null
		);
	}

	private owners(org: string): number {
		return this.sql
			.exec<{ n: number }>(`SELECT count(*) AS n FROM org_members WHERE org = ? AND role = 'owner'`, org)
			.one().n;
	}

	private size(org: string): number {
		return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM org_members WHERE org = ?`, org).one().n;
	}

	private teamMembers(org: string, team: string): string[] {
		return this.sql
			.exec<{ user_name: string }>(
				`SELECT user_name FROM team_members WHERE org = ? AND team = ? ORDER BY user_name`,
				org,
				team,
			)
			.toArray()
			.map((r) => r.user_name);
	}

	private teamTokens(org: string, team: string): string[] {
		return this.teamMembers(org, team).flatMap((user) => this.tokensOf(user));
	}

	private memberTokens(org: string): string[] {
		return Object.keys(this.membersOf(org)).flatMap((user) => this.tokensOf(user));
	}

	private membersOf(org: string): Record<string, OrgRole> {
		const rows = this.sql.exec<OrgMemberRow>(`SELECT * FROM org_members WHERE org = ?`, org).toArray();
		return Object.fromEntries(rows.map((m) => [m.user_name, m.role]));
	}

	private teamView(row: TeamRow): TeamView {
		const grants = this.sql
			.exec<TeamGrantRow>(`SELECT * FROM team_grants WHERE org = ? AND team = ? ORDER BY subject`, row.org, row.name)
			.toArray()
			.map(
				(g): TeamGrant =>
					g.subject_kind === "package"
						? { package: g.subject, permission: g.permissions }
						: { scope: g.subject, permission: g.permissions },
			);
		return { name: row.name, description: row.description, members: this.teamMembers(row.org, row.name), grants };
	}
}
