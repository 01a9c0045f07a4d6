import * as v from "valibot";

// Request bodies of the channel API (web-component loaders).

const VersionNumber = v.pipe(v.string(), v.minLength(1, "version must not be empty"));
const VersionId = v.pipe(v.string(), v.uuid("versionId must be a UUID"));

/** POST /packages/{name}/channels/{channel}: the version to publish to the channel. */
export const MoveChannelSchema = v.union(
	[v.strictObject({ version: VersionNumber }), v.strictObject({ versionId: VersionId })],
	'the body must be { "version": "1.2.0" } or { "versionId": "…" }',
);

/** POST …/rollback: one step back, or back to a chosen earlier history entry. */
export const RollbackSchema = v.strictObject({
	to: v.optional(v.pipe(v.number("to must be a history entry id"), v.integer(), v.minValue(1))),
});

/** POST /packages/{name}/channels/{to}/promote */
export const PromoteSchema = v.strictObject({ from: v.string("from must name a channel") });
