import * as v from "valibot";
import { LIMITS } from "../limits";

// Request bodies of the npm protocol, as npm 11, pnpm, yarn 4 and bun send them. Loose objects:
// clients add fields of their own, and what the registry does not read it does not keep.

const Dist = v.looseObject({
	integrity: v.optional(v.string()),
	shasum: v.optional(v.string()),
	tarball: v.optional(v.string()),
});

export const VersionManifestSchema = v.looseObject({
	name: v.string("versions[].name must be a string"),
	version: v.string("versions[].version must be a string"),
	dist: v.optional(Dist),
	deprecated: v.optional(v.string("deprecated must be a string")),
});

const Attachment = v.looseObject({
	content_type: v.optional(v.string()),
	data: v.string("_attachments[].data must be a base64 string"),
	length: v.optional(v.number()),
});

/** PUT /{name}: a publish (with one attachment) or a whole-document update (deprecate, unpublish). */
export const PackageDocumentSchema = v.looseObject({
	name: v.string("name must be a string"),
	"dist-tags": v.optional(v.record(v.string(), v.string("dist-tags values must be version strings")), {}),
	versions: v.record(v.string(), VersionManifestSchema, "versions must be an object of version manifests"),
	access: v.optional(v.nullable(v.picklist(["public", "restricted"], "access must be public or restricted"))),
	_attachments: v.optional(v.record(v.string(), Attachment)),
	_rev: v.optional(v.string()),
});
export type PackageDocument = v.InferOutput<typeof PackageDocumentSchema>;

/** PUT /-/package/{name}/dist-tags/{tag}: the body is the version as a JSON string. */
export const DistTagBodySchema = v.string("the body must be a JSON string holding a version");

/** PUT /-/user/org.couchdb.user:{name} (npm login / adduser, CouchDB style). */
export const CouchLoginSchema = v.looseObject({
	name: v.string("name must be a string"),
	password: v.string("password must be a string"),
	email: v.optional(v.string()),
});

/** POST /-/npm/v1/tokens (npm token create): granular tokens of npm 11, and the older read-only flag. */
export const NpmTokenCreateSchema = v.looseObject({
	password: v.string("password is required to create a token"),
	name: v.optional(v.nullable(v.string())),
	readonly: v.optional(v.boolean()),
	cidr_whitelist: v.optional(v.array(v.string())),
	packages: v.optional(v.array(v.string())),
	scopes: v.optional(v.array(v.string())),
	packages_and_scopes_permission: v.optional(v.picklist(["read-only", "read-write"])),
	expires: v.optional(
		v.pipe(
			v.number(),
			v.integer(),
			v.minValue(1, "expires is a number of days"),
			v.maxValue(LIMITS.tokenExpiryDays, `expires is at most ${LIMITS.tokenExpiryDays} days`),
		),
	),
	bypass_2fa: v.optional(v.boolean()),
});

/** POST /-/package/{name}/access (npm access set status=… / mfa=…). */
export const PackageAccessSchema = v.looseObject({
	access: v.optional(v.picklist(["public", "restricted"], "access must be public or restricted")),
	publish_requires_tfa: v.optional(v.boolean()),
	automation_token_overrides_tfa: v.optional(v.boolean()),
});

/** PUT /{name}/-rev/{rev} from npm owner add/rm: only the maintainers change. */
export const MaintainersDocumentSchema = v.looseObject({
	_id: v.optional(v.string()),
	_rev: v.optional(v.string()),
	maintainers: v.array(v.looseObject({ name: v.string("maintainers[].name must be a string") })),
});
