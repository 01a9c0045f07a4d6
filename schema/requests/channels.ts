import * as v from "valibot";

// Request bodies of the channel API (web-component loaders).

const VersionNumber = v.pipe(v.string(), v.minLength(1, "version must not be empty"));
const VersionId = v.pipe(v.string(), v.uuid("versionId must be a UUID"));

/** POST /packages/{name}/channels/{channel}: the version to publish to the channel. */
/** `create`: the channel may be new even though its name is a slip from an existing one's (#24.5). */
const Create = v.optional(v.boolean("create must be true or false"));

export const MoveChannelSchema = v.union(
	[
		v.strictObject({ version: VersionNumber, create: Create }),
		v.strictObject({ versionId: VersionId, create: Create }),
	],
	'the body must be { "version": "1.2.0" } or { "versionId": "…" }',
);

/** POST …/rollback: one step back, or back to a chosen earlier history entry. */
export const RollbackSchema = v.strictObject({
	to: v.optional(v.pipe(v.number("to must be a history entry id"), v.integer(), v.minValue(1))),
});

/** POST /packages/{name}/channels/{to}/promote */
export const PromoteSchema = v.strictObject({ from: v.string("from must name a channel"), create: Create });

const Percent = v.pipe(
	v.number("percent must be a number from 0 to 100"),
	v.minValue(0, "percent must be a number from 0 to 100"),
	v.maxValue(100, "percent must be a number from 0 to 100"),
	// Buckets are hundredths of a percent: finer percentages mean nothing.
	v.transform((percent) => Math.round(percent * 100) / 100),
);

/** POST /packages/{name}/channels/{channel}/rollout: which version, to what share of clients. */
export const StartRolloutSchema = v.union(
	[
		v.strictObject({ version: VersionNumber, percent: Percent }),
		v.strictObject({ versionId: VersionId, percent: Percent }),
	],
	'the body must be { "version": "1.2.0", "percent": 10 } or { "versionId": "…", "percent": 10 }',
);

/** PATCH /packages/{name}/channels/{channel}/rollout */
export const ChangeRolloutSchema = v.strictObject({ percent: Percent });
