import ipaddr from "ipaddr.js";
import * as v from "valibot";
import validate from "validate-npm-package-name";

// Request bodies of the admin API (and the grant shape shared with the token and user records).

export const PERMISSIONS = ["read", "upload", "publish"] as const;
export type Permission = (typeof PERMISSIONS)[number];

const Permissions = v.pipe(
	v.array(v.picklist(PERMISSIONS, "permissions must be read, upload or publish")),
	v.minLength(1, "a grant needs at least one permission"),
);

const PackageNameField = v.pipe(
	v.string(),
	v.check((name) => validate(name).validForNewPackages, "grant.package is not a valid package name"),
);

const ScopeField = v.pipe(v.string(), v.regex(/^@[a-z0-9][a-z0-9._~-]*$/, "grant.scope must look like @scope"));

export const GrantSchema = v.union(
	[
		v.strictObject({ package: PackageNameField, permissions: Permissions }),
		v.strictObject({ scope: ScopeField, permissions: Permissions }),
	],
	'a grant is { "package": name, "permissions": [...] } or { "scope": "@scope", "permissions": [...] }',
);
export type Grant = v.InferOutput<typeof GrantSchema>;

/** The subject of a grant, to remove it: `{ "package": name }` or `{ "scope": "@scope" }`. */
export const GrantSubjectSchema = v.union(
	[v.strictObject({ package: PackageNameField }), v.strictObject({ scope: ScopeField })],
	'name the grant to remove: { "package": name } or { "scope": "@scope" }',
);

export const TOKEN_KINDS = ["developer", "customer", "admin"] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];

export const CidrListSchema = v.pipe(
	v.array(
		v.pipe(
			v.string(),
			v.check((c) => ipaddr.isValidCIDR(c), "cidr entries must be CIDR ranges like 10.0.0.0/8"),
		),
	),
	v.minLength(1, "cidr needs at least one range"),
);

const NameField = v.pipe(v.string(), v.trim(), v.minLength(1, "name is required"), v.maxLength(100));

export const CreateTokenSchema = v.strictObject({
	kind: v.picklist(TOKEN_KINDS, "kind must be developer, customer or admin"),
	name: NameField,
	grants: v.optional(v.array(GrantSchema), []),
	expiresAt: v.optional(v.pipe(v.string(), v.isoTimestamp("expiresAt must be an ISO 8601 timestamp"))),
	/** The customer a customer key belongs to (suspending the customer suspends the key). */
	customer: v.optional(NameField),
	cidr: v.optional(CidrListSchema),
});

export const CreateCustomerSchema = v.strictObject({ name: NameField });
export const UpdateCustomerSchema = v.strictObject({ active: v.boolean("active must be true or false") });
const RetentionDays = v.nullable(
	v.pipe(
		v.number("prereleaseRetentionDays must be a number of days or null"),
		v.integer("prereleaseRetentionDays must be a whole number of days"),
		v.minValue(0, "prereleaseRetentionDays must be 0 or more"),
		v.maxValue(36_500, "prereleaseRetentionDays must be at most 36500"),
	),
);

/** PUT /-/admin/scopes/{scope}: what changes (at least one). */
export const ScopePolicySchema = v.pipe(
	v.strictObject({
		requireTwoFactor: v.optional(v.boolean("requireTwoFactor must be true or false")),
		prereleaseRetentionDays: v.optional(RetentionDays),
	}),
	v.check(
		(body) => body.requireTwoFactor !== undefined || body.prereleaseRetentionDays !== undefined,
		"send requireTwoFactor or prereleaseRetentionDays",
	),
);

/** PUT /-/admin/retention: the registry's default retention of pre-release versions (null: off). */
export const RetentionDefaultSchema = v.strictObject({ prereleaseRetentionDays: RetentionDays });

export const UserName = v.pipe(
	v.string(),
	v.regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "user names are 1-64 lowercase letters, digits, '.', '_' or '-'"),
);

/**
 * The one password rule, for every way an account is made (the admin API, `npm adduser` with
 * ALLOW_SIGNUP): long enough to resist guessing, short enough that hashing it costs nothing extra.
 */
export const PASSWORD_LENGTH = { min: 8, max: 1024 } as const;
export const NewPassword = v.pipe(
	v.string("password must be a string"),
	v.minLength(PASSWORD_LENGTH.min, `password must be at least ${PASSWORD_LENGTH.min} characters`),
	v.maxLength(PASSWORD_LENGTH.max, `password must be at most ${PASSWORD_LENGTH.max} characters`),
);

/** A new account: through the admin API, or `npm adduser` (no grants) when ALLOW_SIGNUP is on. */
export const CreateUserSchema = v.strictObject({
	name: UserName,
	password: NewPassword,
	email: v.optional(v.pipe(v.string(), v.email("email is not valid"))),
	grants: v.optional(v.array(GrantSchema), []),
});

/** POST /-/admin/claims: the name becomes this registry's before anything is published under it. */
export const ClaimSchema = v.strictObject({
	name: v.pipe(v.string("name must be a package name"), v.minLength(1, "name must be a package name")),
});
