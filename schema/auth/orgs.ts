import type { Actor } from "../audit";
import type { Result } from "../errors";
import type { Grant } from "../requests/admin";
import type { GrantSubject, TokenChange } from "./contract";

// Organisations as npm has them (npm org, npm team, npm access grant): an org owns a scope (acme
// owns @acme/*); its members are owners (membership, teams, grants), admins (teams, grants, and
// developers' membership) or developers; teams hold grants on the org's packages or its whole
// scope. What a user may do is the union of their own grants, their teams' grants and what their
// role gives them (owners and admins: the whole scope; every member: reading it, unless the org
// turns that off). Kept in the AuthStoreDO, whose pushes carry every change to the users' tokens.

export const ORG_ROLES = ["owner", "admin", "developer"] as const;
export type OrgRole = (typeof ORG_ROLES)[number];
export const TEAM_PERMISSIONS = ["read-only", "read-write"] as const;
export type TeamPermission = (typeof TEAM_PERMISSIONS)[number];

/** Who asks for an org change or view: the registry's admin, or a token acting for a user (or for none). */
export type OrgCaller = { admin: true } | { admin: false; user: string | null };

export type TeamGrant = { package: string; permission: TeamPermission } | { scope: string; permission: TeamPermission };
export type TeamView = { name: string; description: string | null; members: string[]; grants: TeamGrant[] };
export type OrgSettings = { membersRead: boolean };
export type OrgView = OrgSettings & {
	name: string;
	scope: string;
	createdAt: string;
	members: Record<string, OrgRole>;
	teams: TeamView[];
};
/** `npm org set`'s answer. */
export type Membership = { org: { name: string; size: number }; user: string; role: OrgRole };

type Changed<T> = Promise<Result<TokenChange<T>>>;

export interface OrgsContract {
	/** npm org set: adds a member or changes their role; the registry's admin creates an org by naming its first owner. */
	setOrgMember(org: string, user: string, role: OrgRole, caller: OrgCaller, actor: Actor): Changed<Membership>;
	/** npm org rm: removes a member from the org and its teams (a member may leave; the last owner may not). */
	removeOrgMember(org: string, user: string, caller: OrgCaller, actor: Actor): Changed<{ org: string; user: string }>;
	setOrgSettings(org: string, settings: OrgSettings, caller: OrgCaller, actor: Actor): Changed<OrgSettings>;
	createTeam(
		org: string,
		team: string,
		description: string | null,
		caller: OrgCaller,
		actor: Actor,
	): Changed<{ name: string; description: string | null }>;
	destroyTeam(org: string, team: string, caller: OrgCaller, actor: Actor): Changed<{ name: string }>;
	addTeamMember(org: string, team: string, user: string, caller: OrgCaller, actor: Actor): Changed<{ user: string }>;
	removeTeamMember(org: string, team: string, user: string, caller: OrgCaller, actor: Actor): Changed<{ user: string }>;
	/** npm access grant: a team's permission on one package of the org's scope, or on the whole scope. */
	grantTeam(
		org: string,
		team: string,
		subject: GrantSubject,
		permission: TeamPermission,
		caller: OrgCaller,
		actor: Actor,
	): Changed<{ grant: TeamGrant }>;
	revokeTeam(org: string, team: string, subject: GrantSubject, caller: OrgCaller, actor: Actor): Changed<object>;
	/** The org as its members (and the registry's admin) see it; anyone else: the 404 of a missing org. */
	org(org: string, caller: OrgCaller): Result<OrgView>;
	/** What a user's roles and teams give them (npm access list packages {user}). */
	orgGrantsOf(user: string): Grant[];
	/** The orgs a user belongs to, with their role (pages). */
	orgsOf(user: string): { org: string; role: OrgRole }[];
	/** Every org's name (the admin dashboard). */
	listOrgs(): string[];
}
