import { type Refusal, refuse } from "./errors";
import { LIMITS } from "./limits";

// The catalogue of refusals about packages, channels, tokens and users: one constructor per
// condition, so the same condition always gives the same code and the same words, whichever
// object or handler notices it.

export const refusals = {
	// packages
	packageNotFound: (): Refusal => refuse("notFound", "not_found"),
	versionNotFound: (version: string): Refusal => refuse("notFound", `version ${version} not found`),
	/** Files answer a bare 404 whatever is missing: their URLs are guessed and probed. */
	fileNotFound: (): Refusal => refuse("notFound", "not_found"),
	versionExists: (version: string): Refusal =>
		refuse("versionExists", `You cannot publish over the previously published versions: ${version}.`),
	versionRemoved: (version: string): Refusal =>
		refuse("badRequest", `version ${version} was unpublished and cannot come back`),
	versionWithoutTarball: (version: string): Refusal =>
		refuse("badRequest", `version ${version} cannot be added without its tarball attachment`),
	staleRevision: (rev: string | null): Refusal =>
		refuse("revisionMismatch", `document update conflict: _rev ${rev} is not current`),
	removesEveryVersion: (): Refusal =>
		refuse("badRequest", "a document update cannot remove every version; unpublish the package"),
	onlyVersion: (): Refusal => refuse("conflict", "this is the only version: unpublish the package instead"),
	protectedVersion: (name: string, version: string, channels: string[]): Refusal =>
		refuse(
			"protectedVersion",
			`version ${version} is protected: ${channelList(channels)} ${channels.length === 1 ? "points" : "point"} at it or may roll back to it; move or roll ${channels.length === 1 ? "it" : "them"} to another version first, or delete the version anyway with DELETE /packages/${name}/versions/${version}?force=true`,
		),
	channelsInUse: (channels: string[]): Refusal =>
		refuse(
			"protectedVersion",
			`the package is in use through ${channelList(channels)}: remove ${channels.length === 1 ? "it" : "them"} first, or unpublish anyway with force=true`,
		),
	importConflict: (version: string, here: string, source: string): Refusal =>
		refuse(
			"conflict",
			`version ${version} is already here with other bytes (${here}, the source has ${source}): it is never overwritten`,
		),
	rangeTooComplex: (): Refusal =>
		refuse(
			"badRequest",
			`a version range is at most ${LIMITS.rangeLength} characters and ${LIMITS.rangeAlternatives} alternatives`,
		),

	// channels (npm dist-tags)
	tooManyChannels: (): Refusal =>
		refuse("conflict", `a package has at most ${LIMITS.channelsPerPackage} channels (dist-tags); remove one first`),
	channelNotFound: (channel: string): Refusal => refuse("notFound", `channel "${channel}" does not exist`),
	latestIsPermanent: (): Refusal => refuse("badRequest", "the latest tag cannot be deleted"),
	rolloutInProgress: (channel: string): Refusal =>
		refuse("conflict", `channel "${channel}" has a rollout under way: complete or revert it first`),
	noRollout: (channel: string): Refusal => refuse("notFound", `channel "${channel}" has no rollout under way`),
	alreadyTarget: (channel: string, version: string): Refusal =>
		refuse("conflict", `channel "${channel}" already points at ${version}: there is nothing to roll out`),
	nothingToRollBackTo: (channel: string): Refusal =>
		refuse("conflict", `channel "${channel}" has no earlier entry to roll back to`),
	notAnEarlierEntry: (channel: string, to: number): Refusal =>
		refuse("unprocessable", `history entry ${to} is not an earlier entry of channel "${channel}"`),

	// the upstream registry (see schema/upstream.ts)
	upstreamName: (name: string): Refusal =>
		refuse(
			"upstreamName",
			`${name} exists in the upstream registry: publishing it here would shadow it for every install; an admin can claim the name first (POST /-/admin/claims)`,
		),
	upstreamReadOnly: (name: string): Refusal =>
		refuse(
			"upstreamReadOnly",
			`${name} comes from the upstream registry: it cannot be published to, tagged, deprecated or changed through this registry`,
		),
	upstreamUnavailable: (name: string): Refusal =>
		refuse(
			"upstreamUnavailable",
			`cannot publish the new name ${name} now: the upstream registry cannot be asked whether it has it; try again later`,
		),
	upstreamNotFound: (what: string): Refusal => refuse("notFound", `upstream has no ${what}`),
	upstreamFailed: (what: string, why: string): Refusal => refuse("upstreamFailed", `upstream ${what}: ${why}`),
	upstreamTimeout: (what: string, seconds: number): Refusal =>
		refuse("upstreamTimeout", `upstream ${what}: no answer within ${seconds} s`),
	/** Upstream began to answer but did not finish in time (UPSTREAM_TIMEOUT_SECONDS, UPSTREAM_DOWNLOAD_SECONDS). */
	upstreamSlow: (what: string, why: string): Refusal => refuse("upstreamTimeout", `upstream ${what}: ${why}`),
	upstreamIntegrity: (what: string): Refusal =>
		refuse(
			"upstreamIntegrity",
			`upstream ${what}: the bytes do not match the integrity upstream published; nothing was stored`,
		),

	// users, tokens, customers
	userNotFound: (name: string): Refusal => refuse("notFound", `user ${name} does not exist`),
	userExists: (name: string): Refusal => refuse("conflict", `user ${name} already exists`),
	tokenNotFound: (id: string): Refusal => refuse("notFound", `token ${id} does not exist`),
	customerNotFound: (name: string): Refusal => refuse("notFound", `customer ${name} does not exist`),
	customerExists: (name: string): Refusal => refuse("conflict", `customer ${name} already exists`),
	customerKeysReadOnly: (): Refusal => refuse("unprocessable", "customer keys are read-only: grant them read only"),
	noSuchGrant: (holder: "token" | "user"): Refusal => refuse("notFound", `the ${holder} has no such grant`),

	// export and restore (schema/backup/contract.ts)
	restoreInvalid: (why: string): Refusal => refuse("unprocessable", `cannot restore: ${why}`),
	restoreNewerSchema: (what: string, schema: number, here: number): Refusal =>
		refuse(
			"unprocessable",
			`cannot restore ${what}: it was exported at schema ${schema}, this registry is at ${here}; upgrade the registry first`,
		),
	restoreOutOfOrder: (name: string): Refusal =>
		refuse("conflict", `cannot restore rows of ${name}: its restore was not begun, or it is already restored`),
	exportChanged: (name: string): Refusal =>
		refuse("conflict", `${name} changed while it was being exported: export it again from its start`),
	blobMissing: (key: string): Refusal =>
		refuse("unprocessable", `cannot restore: the bytes of ${key} are not in this registry; restore them first`),
	// trusted publishing and staged versions (npm trust, npm stage)
	trustNotFound: (id: string): Refusal => refuse("notFound", `trust configuration ${id} does not exist`),
	tooManyTrustConfigurations: (max: number): Refusal =>
		refuse("conflict", `a package has at most ${max} trust configurations; revoke one first`),
	idTokenReplayed: (): Refusal =>
		refuse("unauthorized", "this ID token was already exchanged: request a new one from the CI provider"),
	stagedNotFound: (id: string): Refusal => refuse("notFound", `staged version ${id} does not exist or has expired`),
	stagedVersionTaken: (version: string): Refusal =>
		refuse("versionExists", `You cannot stage over the previously published versions: ${version}.`),
	// organisations and teams (schema/auth/orgs.ts)
	/** Deliberately vague: an org the caller is no member of does not exist for it. */
	orgNotFound: (org: string): Refusal => refuse("notFound", `org ${org} not found`),
	orgStartsWithOwner: (org: string): Refusal =>
		refuse("unprocessable", `org ${org} does not exist yet: the registry's admin creates it by naming its first owner`),
	orgRoleNeeded: (org: string, roles: string): Refusal => refuse("forbidden", `only ${roles} of ${org} may do this`),
	adminsManageDevelopers: (org: string): Refusal =>
		refuse("forbidden", `admins of ${org} add and remove developers only: owners and admins are managed by its owners`),
	lastOwner: (org: string): Refusal =>
		refuse("conflict", `an org keeps at least one owner: make another owner of ${org} first`),
	notAMember: (org: string, user: string): Refusal => refuse("notFound", `${user} is not a member of ${org}`),
	notInTeam: (team: string, user: string): Refusal => refuse("notFound", `${user} is not in team ${team}`),
	teamNotFound: (team: string): Refusal => refuse("notFound", `team ${team} not found`),
	teamExists: (team: string): Refusal => refuse("conflict", `team ${team} already exists`),
	grantOutsideOrg: (org: string, subject: string): Refusal =>
		refuse("unprocessable", `${subject} is not in @${org}: a team is granted packages of its own org only`),
	noTeamGrant: (team: string, subject: string): Refusal =>
		refuse("notFound", `team ${team} has no grant on ${subject}`),
	// package hooks
	hookNotFound: (id: string): Refusal => refuse("notFound", `hook ${id} does not exist`),
	tooManyHooks: (limit: number): Refusal => refuse("conflict", `a user has at most ${limit} hooks; remove one first`),
} as const;

/** `channel "a"`, `channels "a" and "b"`, `channels "a", "b" and "c"`. */
function channelList(channels: string[]): string {
	const quoted = channels.map((c) => `"${c}"`);
	if (quoted.length <= 1) return `channel ${quoted.join("")}`;
	return `channels ${quoted.slice(0, -1).join(", ")} and ${quoted.at(-1)}`;
}
