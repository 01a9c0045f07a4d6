import * as v from "valibot";

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
