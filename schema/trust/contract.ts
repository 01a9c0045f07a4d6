import * as v from "valibot";
import type { OidcProvider } from "../config";

// Trusted publishing (npm trust, npm 11): the shapes of trust configurations, of the short-lived
// tokens a CI's OpenID Connect ID token is exchanged for, and of staged versions (npm stage).

/** What a trust configuration lets its CI do, as npm names it. */
export const TRUST_PERMISSIONS = ["createPackage", "createStagedPackage"] as const;
export type TrustPermission = (typeof TRUST_PERMISSIONS)[number];

export type TrustClaims = Record<string, string | string[] | { file: string }>;

/** A trust configuration as `npm trust list` reads it. */
export type TrustConfiguration = {
	id: string;
	type: OidcProvider;
	/** The claims an ID token must carry, in the body npm sends (`workflow_ref: { file }` and so on). */
	claims: TrustClaims;
	permissions: TrustPermission[];
	createdAt: string;
	createdBy: string;
};

const Text = v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(300));
const File = v.pipe(
	Text,
	v.regex(/^[^/\\]+\.ya?ml$/, "the workflow or pipeline file is a file name ending in .yml or .yaml"),
);
const Uuid = v.pipe(v.string(), v.uuid("CircleCI ids are UUIDs"));
const Permissions = v.pipe(
	v.array(v.picklist(TRUST_PERMISSIONS, "permissions are createPackage and createStagedPackage")),
	v.minLength(1, "a trust configuration needs at least one permission"),
);

/** One configuration in the body of POST /-/package/{name}/trust, as npm trust github|gitlab|circleci sends it. */
export const NewTrustSchema = v.variant(
	"type",
	[
		v.strictObject({
			type: v.literal("github"),
			claims: v.strictObject({
				repository: v.pipe(Text, v.regex(/^[^/]+\/[^/]+$/, "repository is owner/repository")),
				workflow_ref: v.strictObject({ file: File }),
				environment: v.optional(Text),
			}),
			permissions: v.optional(Permissions, ["createPackage"]),
		}),
		v.strictObject({
			type: v.literal("gitlab"),
			claims: v.strictObject({
				project_path: v.pipe(Text, v.regex(/^[^/]+(\/[^/]+)+$/, "project is group/project")),
				ci_config_ref_uri: v.strictObject({ file: File }),
				environment: v.optional(Text),
			}),
			permissions: v.optional(Permissions, ["createPackage"]),
		}),
		v.strictObject({
			type: v.literal("circleci"),
			claims: v.strictObject({
				"oidc.circleci.com/org-id": Uuid,
				"oidc.circleci.com/project-id": Uuid,
				"oidc.circleci.com/pipeline-definition-id": Uuid,
				"oidc.circleci.com/vcs-origin": Text,
				"oidc.circleci.com/context-ids": v.optional(v.array(Uuid)),
			}),
			permissions: v.optional(Permissions, ["createPackage"]),
		}),
	],
	"type is github, gitlab or circleci",
);
export const NewTrustListSchema = v.pipe(
	v.union([v.array(NewTrustSchema), NewTrustSchema]),
	v.transform((body) => (Array.isArray(body) ? body : [body])),
	v.check((list) => list.length >= 1 && list.length <= 20, "send one to twenty trust configurations"),
);
export type NewTrust = v.InferOutput<typeof NewTrustSchema>;

/**
 * Where a version published by a trusted publisher came from: the ID token's claims the package
 * page and the audit trail show, with links to the provider where it has them.
 */
export type Provenance = {
	provider: OidcProvider;
	/** The trust configuration that let it in. */
	configId: string;
	/** owner/repository (GitHub), group/project (GitLab), the VCS origin (CircleCI). */
	repository: string;
	/** The workflow or pipeline file. */
	workflow: string | null;
	ref: string | null;
	commit: string | null;
	/** The run or pipeline id. */
	run: string | null;
	environment: string | null;
	links: { repository?: string; workflow?: string; commit?: string; run?: string };
};

/** What a token exchanged for an ID token may do: one package, publish and/or stage, and where it came from. */
export type TrustedPublisher = {
	package: string;
	publish: boolean;
	stage: boolean;
	provenance: Provenance;
};

/** A staged version as npm stage list/view show it. */
export type StagedVersion = {
	id: string;
	packageName: string;
	version: string;
	tag: string;
	createdAt: string;
	expiresAt: string;
	actor: string;
	actorType: "user" | "trustedPublisher";
	shasum: string;
	integrity: string;
};
