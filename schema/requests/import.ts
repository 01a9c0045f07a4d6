import * as v from "valibot";
import { VersionManifestSchema } from "./npm";

// Request bodies of the admin import API (worker/admin/import.ts), which `npm run migrate` sends.

const Person = v.looseObject({
	name: v.string("a person's name must be a string"),
	email: v.optional(v.string()),
});

/** Read with importedTime(): sources write dates in more than one ISO 8601 spelling. */
const Timestamp = v.string("a time must be an ISO 8601 string");

/**
 * PUT /-/admin/import/{name}: one version as the source registry has it. The shape of an npm
 * publish (one version, its tarball a base64 attachment, streamed like a publish), plus the
 * version's time. `dist` is the source's: the bytes are checked against it. `deprecated` and
 * `_npmUser` are kept; `dist-tags` are not read (the metadata step sets them).
 */
export const ImportVersionSchema = v.looseObject({
	name: v.string("name must be a string"),
	versions: v.record(
		v.string(),
		v.looseObject({ ...VersionManifestSchema.entries, _npmUser: v.optional(v.unknown()) }),
		"versions must be an object of version manifests",
	),
	time: v.record(v.string(), v.unknown(), "time must be an object"),
	access: v.optional(v.nullable(v.picklist(["public", "restricted"], "access must be public or restricted"))),
	_attachments: v.optional(
		v.record(
			v.string(),
			v.looseObject({ data: v.string("_attachments[].data must be a base64 string"), length: v.optional(v.number()) }),
		),
	),
});
export type ImportVersionDocument = v.InferOutput<typeof ImportVersionSchema>;

/**
 * PUT /-/admin/import/{name}/-/metadata: what belongs to the package rather than a version,
 * applied once its versions are in. Version numbers `unpublished` at the source stay taken here.
 */
export const ImportMetadataSchema = v.object({
	"dist-tags": v.record(v.string(), v.string("dist-tags values must be version strings")),
	created: v.optional(Timestamp),
	modified: v.optional(Timestamp),
	maintainers: v.optional(v.array(Person)),
	unpublished: v.optional(v.array(v.string("unpublished must list version strings"))),
	/** Each version's deprecation at the source ("" for none): a re-run brings later changes. */
	deprecated: v.optional(v.record(v.string(), v.string("deprecated values must be strings"))),
});
export type ImportMetadataDocument = v.InferOutput<typeof ImportMetadataSchema>;

/** `time[version]` of a source packument, as this registry stores it (ISO 8601, UTC). */
export function importedTime(value: unknown): string | null {
	if (typeof value !== "string") return null;
	const at = new Date(value);
	return Number.isNaN(at.getTime()) ? null : at.toISOString();
}
