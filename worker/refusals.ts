import type { ErrorCode, Refusal } from "../schema/errors";
import { LIMITS } from "../schema/limits";
import { refusals } from "../schema/refusals";
import { HttpError } from "./errors";

// The Worker's catalogue of refusals: one constructor per condition, so a condition always has
// the same code and the same words. The refusals the objects raise too (packages, channels, users,
// tokens, upstream) are `schema/refusals.ts`'s, raised here as HttpErrors (`fromCatalogue`); the
// ones only HTTP has (request bodies, paths, periods, Origin, authentication, the publish
// protocol) are written here. tests/refusals.test.ts fails on a message written anywhere else in
// worker/. Where a refusal is deliberately vague (it must not tell whether something exists),
// its name says so.

const http = (code: ErrorCode, message: string, headers?: Record<string, string>) =>
	new HttpError(code, message, headers);
const fromCatalogue = (refusal: Refusal) => HttpError.from(refusal);
const OTP = { "WWW-Authenticate": "OTP" };
const BEARER = { "WWW-Authenticate": 'Bearer realm="registry"' };

const LOG_IN = {
	changePackages: "you must be logged in to change packages",
	admin: "the admin API needs the admin token",
	whoami: "not logged in",
	lookUpUsers: "log in to look users up",
	listPackages: "log in to list packages",
	listCollaborators: "log in to list collaborators",
	manageTokens: "log in to manage your tokens",
	readAudit: "log in to read the audit trail",
	stage: "log in to see and approve staged versions",
	manageOrgs: "log in to see or manage orgs and teams",
	manageHooks: "log in to manage hooks",
} as const;
export type LogInReason = keyof typeof LOG_IN;

export const refused = {
	// Deliberate vagueness: the same bare 404 for what does not exist and what the caller may not
	// see (a restricted package, a file outside its capability, a tarball of another package).
	hidden: () => fromCatalogue(refusals.packageNotFound()),
	/** An unknown endpoint of the registry's own (a guessed path): the same bare 404. */
	unknownEndpoint: () => fromCatalogue(refusals.packageNotFound()),
	notATarball: (file: string, name: string) => http("notFound", `${file} is not a tarball of ${name}`),
	/** npm's user lookups: whether a name is taken is not told to those who may not look users up. */
	userHidden: () => http("notFound", "user not found"),
	userNotFound: (name: string) => fromCatalogue(refusals.userNotFound(name)),
	/** Another user's hook is the same 404 as one that does not exist. */
	hookNotFound: (id: string) => fromCatalogue(refusals.hookNotFound(id)),
	tokenNotFound: () => http("notFound", "token not found"),
	noScopePackages: (scope: string) => http("notFound", `no packages in ${scope}`),
	staleRevision: (rev: string | null) => fromCatalogue(refusals.staleRevision(rev)),
	customerKeysReadOnly: () => fromCatalogue(refusals.customerKeysReadOnly()),

	// the registry itself
	misconfigured: (missing: string[]) =>
		http("unavailable", `the registry is not configured: set ${missing.join(" and ")}`),
	secretMissing: (name: "ENCRYPTION_KEY" | "URL_SIGNING_SECRET") => http("unavailable", `${name} is not configured`),
	internal: () => http("internal", "internal server error"),

	// request bodies and paths
	bodyTooLarge: (limit: number) => http("payloadTooLarge", `request body is larger than the ${limit}-byte limit`),
	/** npm sends the tarball base64-encoded inside JSON: a third larger than the tarball itself (#24.6). */
	publishTooLarge: (limit: number) =>
		http(
			"payloadTooLarge",
			`request body is larger than the ${limit}-byte limit (MAX_BODY_SIZE); npm sends the tarball base64-encoded, so the largest tarball npm can publish is about 3/4 of it, ${((limit * 3) / 4 / 1048576).toFixed(1)} MiB`,
		),
	malformedJson: () => http("malformedJson", "request body is not valid JSON"),
	tooDeep: () => http("badRequest", `request body nests deeper than ${LIMITS.jsonDepth} levels`),
	/** A valibot schema's first issue, with the path to the member it is about. */
	invalidBody: (path: string | undefined, message: string) =>
		http("badRequest", path ? `${path}: ${message}` : message),
	malformedPath: () => http("badRequest", "malformed percent-encoding in the path"),
	badVersionRef: (value: string) => http("badRequest", `"${value}" is neither a version number nor a versionId`),
	badAuditLimit: () => http("badRequest", "limit must be an integer from 1 to 1000"),
	badAuditSince: () => http("badRequest", "since must be a date or an ISO 8601 timestamp"),
	badPage: (max: number) => http("badRequest", `page must be 1 to ${max}`),
	searchTooDeep: () => http("badRequest", `from must be at most ${LIMITS.searchFrom}`),
	notAnIntegerOfAtLeast: (name: string, min: number) =>
		http("badRequest", `${name} must be an integer of at least ${min}`),

	// periods of the downloads API
	badPeriod: (raw: string) =>
		http("badRequest", `invalid period "${raw}": use last-day, last-week, last-month or YYYY-MM-DD:YYYY-MM-DD`),
	periodReversed: (raw: string) => http("badRequest", `invalid period "${raw}": the start is after the end`),
	periodTooLong: (raw: string, days: number) => http("badRequest", `invalid period "${raw}": at most ${days} days`),

	// channels
	channelNameTypo: (channel: string, near: string) =>
		http(
			"conflict",
			`channel "${channel}" does not exist; did you mean ${near}? To create "${channel}" beside "${near}", send {"create": true} with the version`,
		),

	// pages and their forms
	crossOriginForm: () => http("forbidden", "this form must be sent from the registry's own pages"),
	signInNeedsCredentials: () => http("badRequest", "paste a token, or give your user name and password"),
	badHistoryEntry: () => http("badRequest", "to must be a history entry's id"),

	// authentication
	notBearer: () => http("unauthorized", "authorization must be a Bearer token", BEARER),
	badTokenPrefix: () => http("unauthorized", "invalid token: tokens start with dev_, blk_ or adm_", BEARER),
	invalidToken: () => http("unauthorized", "invalid, expired or revoked token", BEARER),
	/** Too short to be a token: most often the prefix a token is listed by. */
	partialToken: () =>
		http(
			"unauthorized",
			"invalid token: this is only the start of a token (lists show tokens by their first characters); paste the whole token",
			BEARER,
		),
	/** A pasted token that does not work (the sign-in page). */
	tokenRejected: () => http("unauthorized", "invalid token", BEARER),
	/** A wrong password and an unknown name are the same answer (see auth/credentials.ts). */
	badCredentials: () => http("unauthorized", "incorrect username or password", BEARER),
	badPassword: () => http("unauthorized", "incorrect password", BEARER),
	logIn: (to: LogInReason) => http("unauthorized", LOG_IN[to], BEARER),
	wrongAddress: (ip: string | null) =>
		http("forbidden", `this token cannot be used from ${ip ?? "an unknown address"}`),
	lockedOut: (seconds: number) =>
		http("tooManyRequests", `too many failed attempts; retry in ${seconds} s`, { "Retry-After": String(seconds) }),
	rateLimited: (what: string, seconds: number) =>
		http("tooManyRequests", `too many ${what} from this address; retry in ${seconds} s`, {
			"Retry-After": String(seconds),
		}),
	otpMissing: () => http("otpRequired", "this operation requires a one-time password (npm-otp)", OTP),
	otpReplayed: () => http("otpRequired", "this one-time password was already used", OTP),
	otpInvalid: () => http("otpRequired", "invalid one-time password", OTP),

	// permissions
	adminOnly: () => http("forbidden", "the admin API needs the admin token"),
	customerReadOnly: () => http("forbidden", "customer keys are read-only"),
	lacksPermission: (missing: string[], name: string) =>
		http("forbidden", `this token lacks ${missing.join(" and ")} permission on ${name}`),
	/**
	 * A write to a package the token has no grant on: the same 403 whether the package is
	 * restricted or does not exist yet, so it tells nothing the token could not see (#24.6).
	 */
	noGrant: (missing: string[], name: string, scope: string | null) =>
		http(
			"forbidden",
			`this token has no grant on ${name}: it needs ${missing.join(" and ")} permission on ${name}${scope ? ` or on the scope ${scope}` : ""}`,
		),
	needsTwoFactorUser: (name: string) =>
		http(
			"forbidden",
			`${name} requires two-factor authentication: publish with the login token of a user who enabled TOTP`,
		),
	auditForPublishers: () => http("forbidden", "the audit trail is for the package's publishers"),
	ownTokenOnly: () => http("forbidden", "you can only log out your own token"),
	ownPackagesOnly: () => http("forbidden", "you can only list your own packages"),
	npmTokensForUsers: () =>
		http("forbidden", "npm token manages the tokens of a logged-in user; use the admin API for other tokens"),
	limitedTokenCannotCreate: () =>
		http("forbidden", "this token is read-only or limited to some packages: create tokens with your npm login token"),
	bypassNeedsTwoFactor: () =>
		http("forbidden", "only a user with two-factor authentication turned on can create a token that skips it"),
	cannotHook: (what: string) => http("forbidden", `hooking ${what} needs publish permission on it`),
	ownHooksOnly: () => http("forbidden", "an owner hook watches your own packages: name yourself"),
	badHookEndpoint: () =>
		http("badRequest", "endpoint must be an https URL (http only to a loopback address on a local run)"),
	publicUploadNeedsPublish: () =>
		http("forbidden", "making a new package public needs publish permission; upload it without access=public"),

	// orgs and teams (worker/orgs/)
	unknownOrgForm: () => http("badRequest", "unknown form: op must name an org or team change"),
	limitedTokenCannotManageOrgs: () =>
		http("forbidden", "this token is read-only or limited to some packages: manage orgs with your npm login token"),

	// the admin API, npm access and owners
	unknownAdminForm: () => http("badRequest", "unknown form: op must name a change this admin page makes"),
	customerOnlyForCustomerKeys: () => http("unprocessable", "only customer keys belong to a customer"),
	expiryInThePast: () => http("unprocessable", "expiresAt is in the past"),
	badScope: () => http("badRequest", "scope must look like @scope"),
	badCidr: (range: string) => http("badRequest", `invalid CIDR range: ${range}`),
	userNameMismatch: () => http("badRequest", "the user name in the body does not match the URL"),
	nothingToChange: () => http("badRequest", "nothing to change: send access or publish_requires_tfa"),
	unscopedRestricted: () => http("unprocessable", "only scoped packages can be made private"),
	noOwners: () => http("unprocessable", "a package needs at least one owner"),

	// the publish protocol (npm's document and its attachment) and uploads
	documentForOtherPackage: (document: string, name: string) =>
		http("badRequest", `the document is for "${document}", not "${name}"`),
	notOneVersion: () => http("badRequest", "a publish must contain exactly one version"),
	versionMisnamed: (version: string, name: string) =>
		http("badRequest", `versions["${version}"] must have name "${name}" and version "${version}"`),
	tooManyTags: () => http("badRequest", `a publish sets at most ${LIMITS.tagsPerPublish} dist-tags`),
	tagElsewhere: (tag: string) => http("badRequest", `dist-tags.${tag} must point at the version being published`),
	notOneAttachment: () => http("badRequest", "a publish must contain exactly one attachment"),
	attachmentMisnamed: (name: string, version: string) =>
		http("badRequest", `attachment "${name}" is not the tarball of version ${version}`),
	attachmentLength: (size: number, declared: number) =>
		http("integrityMismatch", `attachment length is ${size}, the document says ${declared}`),
	noChecksum: () => http("badRequest", "versions[].dist must declare the tarball's integrity or shasum"),
	integrityMismatch: () => http("integrityMismatch", "the attachment does not match dist.integrity (sha512)"),
	shasumMismatch: () => http("integrityMismatch", "the attachment does not match dist.shasum (sha1)"),
	notBase64: () => http("badRequest", "the attachment data is not valid base64"),
	documentTooLarge: () =>
		http("payloadTooLarge", `the document (all but the tarball) is larger than the ${LIMITS.documentBytes}-byte limit`),
	manifestTooLarge: () => http("payloadTooLarge", `the version manifest is larger than ${LIMITS.manifestBytes} bytes`),
	tarballNamesOther: (found: string, expected: string) =>
		http("manifestMismatch", `the tarball's package.json is ${found}, the document publishes ${expected}`),
	bundleNamesOther: (found: string, name: string) =>
		http("manifestMismatch", `the bundle's package.json names ${found}, not ${name}`),
	bundleWithoutIndex: () => http("unprocessable", "the bundle has no index.js at its root"),

	// a client that left, an isolate at its publish budget (worker/client-gone.ts, publishing/admission.ts)
	clientGone: () => http("badRequest", "the connection closed before the request body ended: nothing was stored"),
	tooManyLargePublishes: (seconds: number) =>
		http("unavailable", "too many large publishes under way here; try again in a few seconds", {
			"retry-after": String(seconds),
		}),

	// the admin import API (worker/admin/import.ts)
	importOneVersion: () => http("badRequest", "an import carries exactly one version and its tarball"),
	importForOtherPackage: (document: string, name: string) =>
		http("badRequest", `the document is for "${document}", not "${name}"`),
	importVersionMisnamed: (version: string, name: string) =>
		http("badRequest", `versions["${version}"] must have name "${name}" and version "${version}"`),
	importWithoutTime: (version: string) =>
		http("badRequest", `time["${version}"] must be the version's publish time (ISO 8601)`),
	importWithoutChecksum: () => http("badRequest", "versions[].dist must carry the source's integrity or shasum"),
	importWithoutTarball: () => http("badRequest", "an import must carry the version's tarball as its one attachment"),
	importTarballNamesOther: (found: string, expected: string) =>
		http("manifestMismatch", `the tarball's package.json is ${found}, the source says ${expected}`),
	importChecksumMismatch: (version: string, what: string) =>
		http("integrityMismatch", `the tarball of ${version} does not match the source's ${what}`),

	// export, restore and backups (worker/admin/export.ts, restore.ts, backups.ts)
	backupNotFound: (id: string) => http("notFound", `backup ${id} does not exist`),
	backupUnfinished: (id: string) => http("conflict", `backup ${id} is not finished`),
	foreignCursor: () => http("badRequest", "cursor is not one this registry gave out"),
	noBytesInBackups: (key: string) => http("notFound", `no bytes under ${key} in the backups`),
	noBytes: (key: string) => http("notFound", `no bytes under ${key}`),
	notABlobKey: () => http("badRequest", "key must name a tarball or file bundle (tarballs/… or files/…)"),
	badSha1: () => http("badRequest", "sha1 must be 40 hex digits"),
	lengthRequired: () => http("badRequest", "Content-Length is required"),
	otherBytesHere: (key: string) => http("conflict", `${key} holds other bytes here; not overwritten`),
	restoredBytesMismatch: (key: string) =>
		http("integrityMismatch", `the bytes of ${key} do not match its sha1 or its length`),

	// tarballs
	notGzipTar: () => http("badTarball", "tarball is not a valid gzip-compressed tar archive"),
	emptyTarball: () => http("badTarball", "tarball contains no files"),
	unsafePath: (name: string) => http("badTarball", `unsafe path in tarball: ${name}`),
	packageJsonNotJson: () => http("badTarball", "package.json in the tarball is not valid JSON"),
	packageJsonNotObject: () => http("badTarball", "package.json in the tarball is not a JSON object"),
	noPackageJson: () => http("badTarball", "tarball has no package/package.json"),
	tooManyEntries: (max: number) => http("payloadTooLarge", `tarball has more than ${max} entries`),
	unpackedTooLarge: (max: number) => http("payloadTooLarge", `tarball unpacks to more than ${max} bytes`),
	inflatesTooFar: () =>
		http("payloadTooLarge", `tarball unpacks to more than ${LIMITS.inflationRatio} times its compressed size`),
	packageJsonTooLarge: () =>
		http("payloadTooLarge", `package.json in the tarball is larger than ${LIMITS.packageJsonBytes} bytes`),

	// trusted publishing (npm trust, the ID-token exchange) and staged versions (npm stage)
	trustNotFound: (id: string) => fromCatalogue(refusals.trustNotFound(id)),
	idTokenReplayed: () => fromCatalogue(refusals.idTokenReplayed()),
	idTokenMissing: () =>
		http("unauthorized", "send the CI provider's OpenID Connect ID token as the bearer token", BEARER),
	idTokenMalformed: () => http("unauthorized", "the ID token is not a signed JWT", BEARER),
	issuerNotTrusted: (issuer: string) =>
		http("unauthorized", `ID tokens of ${issuer} are not trusted here (OIDC_ISSUERS)`, BEARER),
	issuerUnavailable: (issuer: string) =>
		http("unavailable", `the signing keys of ${issuer} cannot be fetched now; try again later`),
	idTokenUnknownKey: (kid: string) =>
		http("unauthorized", `the ID token is signed with key "${kid}", which its issuer does not publish`, BEARER),
	idTokenBadSignature: () => http("unauthorized", "the ID token's signature does not verify", BEARER),
	idTokenAudience: (expected: string) =>
		http("unauthorized", `the ID token is not for this registry: its audience must be ${expected}`, BEARER),
	idTokenExpired: () => http("unauthorized", "the ID token has expired", BEARER),
	idTokenNotYetValid: () => http("unauthorized", "the ID token is not valid yet", BEARER),
	noTrustConfiguration: (name: string) =>
		http("forbidden", `no trusted publisher is configured for ${name} (npm trust github|gitlab|circleci)`),
	noMatchingTrust: (name: string, why: string) =>
		http("forbidden", `no trust configuration of ${name} matches this ID token: ${why}`),
	trustedPublisherOnly: (name: string) =>
		http("forbidden", `this token of a trusted publisher may only publish or stage ${name}`),
	trustedPublisherCannotPublish: (name: string) =>
		http("forbidden", `the trust configuration of ${name} allows staged publishes only: use npm stage publish`),
	trustedPublisherCannotStage: (name: string) =>
		http("forbidden", `the trust configuration of ${name} does not allow staged publishes`),
	stagedNotFound: (id: string) => fromCatalogue(refusals.stagedNotFound(id)),
	stageNeedsTarball: () => http("badRequest", "npm stage publish sends one version with its tarball"),
} as const;
