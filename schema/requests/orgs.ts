import * as v from "valibot";
import { ORG_ROLES, TEAM_PERMISSIONS } from "../auth/orgs";

// Request bodies of npm org, npm team and npm access grant/revoke (libnpmorg, libnpmteam,
// libnpmaccess in npm 11), and the org's own settings. Unknown members are ignored: npm sends what
// it sends.

const NAME = /^[a-z0-9][a-z0-9._~-]*$/;

/** An org (the scope without its @) or a team name, as npm's scopes are spelled. */
export const OrgNameSchema = v.pipe(
	v.string(),
	v.regex(NAME, "an org is a scope's name: lowercase letters, digits, . _ ~ -"),
	v.maxLength(100, "an org's name is at most 100 characters"),
);
export const TeamNameSchema = v.pipe(
	v.string("name must be a string"),
	v.regex(NAME, "a team's name is lowercase letters, digits, . _ ~ -"),
	v.maxLength(100, "a team's name is at most 100 characters"),
);

const UserField = v.pipe(
	v.string("user must be a string"),
	v.transform((user) => user.replace(/^@/, "")),
	v.minLength(1, "user is required"),
);

/** PUT /-/org/{org}/user (npm org set): the role defaults to developer, as npm's does. */
export const OrgMemberSchema = v.looseObject({
	user: UserField,
	role: v.optional(v.nullable(v.picklist(ORG_ROLES, "role must be owner, admin or developer")), "developer"),
});

/** DELETE /-/org/{org}/user, PUT and DELETE /-/team/{scope}/{team}/user. */
export const UserBodySchema = v.looseObject({ user: UserField });

/** PUT /-/org/{scope}/team (npm team create). */
export const TeamCreateSchema = v.looseObject({
	name: TeamNameSchema,
	description: v.optional(v.nullable(v.pipe(v.string("description must be a string"), v.maxLength(1000))), null),
});

const PackageField = v.pipe(v.string("package must be a string"), v.minLength(1, "package is required"));
const ScopeField = v.pipe(v.string(), v.regex(/^@[a-z0-9][a-z0-9._~-]*$/, "scope must look like @scope"));
const Permission = v.picklist(TEAM_PERMISSIONS, "permissions must be read-only or read-write");

/** PUT /-/team/{scope}/{team}/package (npm access grant): one package, or (by the API) the whole scope. */
export const TeamGrantSchema = v.union(
	[
		v.object({ package: PackageField, permissions: Permission }),
		v.object({ scope: ScopeField, permissions: Permission }),
	],
	'a team grant is { "package": name, "permissions": "read-only" | "read-write" } or { "scope": "@scope", … }',
);

/** DELETE /-/team/{scope}/{team}/package (npm access revoke). */
export const TeamRevokeSchema = v.union(
	[v.object({ package: PackageField }), v.object({ scope: ScopeField })],
	'name the grant to revoke: { "package": name } or { "scope": "@scope" }',
);

/** PATCH /-/org/{org}: the org's settings (owners). */
export const OrgSettingsSchema = v.strictObject({
	membersRead: v.boolean("membersRead must be true or false"),
});
