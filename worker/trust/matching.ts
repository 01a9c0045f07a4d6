import type { OidcProvider } from "../../schema/config";
import type { Provenance, TrustClaims, TrustConfiguration } from "../../schema/trust/contract";

// Which of a package's trust configurations an ID token's claims satisfy, as npm's trust commands
// configure them: GitHub: `repository`, the workflow file of `workflow_ref`, and `environment`
// when the configuration names one; GitLab: `project_path`, the pipeline file of
// `ci_config_ref_uri`, `environment`; CircleCI: every `oidc.circleci.com/*` claim, and every
// configured context among the token's. Also where the run came from, for the version's record.

type Claims = Record<string, unknown>;

export type Match = { ok: true; configs: TrustConfiguration[] } | { ok: false; why: string };

export function matchTrust(provider: OidcProvider, claims: Claims, configs: TrustConfiguration[]): Match {
	const candidates = configs.filter((config) => config.type === provider);
	if (candidates.length === 0) return { ok: false, why: `none is for ${provider}` };
	const reasons = candidates.map((config) => mismatch(provider, claims, config.claims));
	const matched = candidates.filter((_, i) => reasons[i] === null);
	if (matched.length > 0) return { ok: true, configs: matched };
	return { ok: false, why: [...new Set(reasons)].join("; ") };
}

/** Why the claims do not satisfy one configuration; null when they do. */
function mismatch(provider: OidcProvider, claims: Claims, wanted: TrustClaims): string | null {
	switch (provider) {
		case "github": {
			if (claims.repository !== wanted.repository) return `repository is ${text(claims.repository)}`;
			const file = (wanted.workflow_ref as { file?: unknown } | undefined)?.file;
			if (githubWorkflowFile(claims) !== file) return `workflow is ${githubWorkflowFile(claims) ?? "(none)"}`;
			if (wanted.environment !== undefined && claims.environment !== wanted.environment) {
				return `environment is ${text(claims.environment)}`;
			}
			return null;
		}
		case "gitlab": {
			if (claims.project_path !== wanted.project_path) return `project is ${text(claims.project_path)}`;
			const file = (wanted.ci_config_ref_uri as { file?: unknown } | undefined)?.file;
			if (gitlabPipelineFile(claims) !== file) return `pipeline file is ${gitlabPipelineFile(claims) ?? "(none)"}`;
			if (wanted.environment !== undefined && claims.environment !== wanted.environment) {
				return `environment is ${text(claims.environment)}`;
			}
			return null;
		}
		case "circleci": {
			for (const [claim, value] of Object.entries(wanted)) {
				if (claim === "oidc.circleci.com/context-ids") {
					const held = Array.isArray(claims[claim]) ? (claims[claim] as unknown[]) : [];
					if (!(value as string[]).every((id) => held.includes(id))) return "a configured context is missing";
				} else if (claims[claim] !== value) {
					return `${claim} is ${text(claims[claim])}`;
				}
			}
			return null;
		}
	}
}

function text(value: unknown): string {
	return typeof value === "string" ? value : "(none)";
}

/** `acme/app/.github/workflows/release.yml@refs/heads/main` → `release.yml` */
function githubWorkflowFile(claims: Claims): string | null {
	const ref = claims.workflow_ref;
	if (typeof ref !== "string") return null;
	const path = ref.split("@")[0] ?? "";
	return path.includes("/.github/workflows/") ? (path.split("/").at(-1) ?? null) : null;
}

/** `gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main` → `.gitlab-ci.yml` */
function gitlabPipelineFile(claims: Claims): string | null {
	const uri = claims.ci_config_ref_uri;
	if (typeof uri !== "string" || !uri.includes("//")) return null;
	return uri.slice(uri.indexOf("//") + 2).split("@")[0] ?? null;
}

/** Where the run came from, with links to it on the provider's site. */
export function provenanceOf(provider: OidcProvider, claims: Claims, configId: string): Provenance {
	const str = (value: unknown) => (typeof value === "string" || typeof value === "number" ? String(value) : null);
	switch (provider) {
		case "github": {
			const repository = str(claims.repository) ?? "";
			const site = `https://github.com/${repository}`;
			const workflow = githubWorkflowFile(claims);
			const commit = str(claims.sha);
			const run = str(claims.run_id);
			return {
				provider,
				configId,
				repository,
				workflow,
				ref: str(claims.ref),
				commit,
				run,
				environment: str(claims.environment),
				links: {
					repository: site,
					...(workflow ? { workflow: `${site}/blob/${commit ?? "HEAD"}/.github/workflows/${workflow}` } : {}),
					...(commit ? { commit: `${site}/commit/${commit}` } : {}),
					...(run ? { run: `${site}/actions/runs/${run}` } : {}),
				},
			};
		}
		case "gitlab": {
			const repository = str(claims.project_path) ?? "";
			const site = `${str(claims.iss) ?? "https://gitlab.com"}/${repository}`;
			const workflow = gitlabPipelineFile(claims);
			const commit = str(claims.sha);
			const run = str(claims.pipeline_id);
			return {
				provider,
				configId,
				repository,
				workflow,
				ref: str(claims.ref),
				commit,
				run,
				environment: str(claims.environment),
				links: {
					repository: site,
					...(workflow ? { workflow: `${site}/-/blob/${commit ?? "HEAD"}/${workflow}` } : {}),
					...(commit ? { commit: `${site}/-/commit/${commit}` } : {}),
					...(run ? { run: `${site}/-/pipelines/${run}` } : {}),
				},
			};
		}
		case "circleci": {
			const origin = str(claims["oidc.circleci.com/vcs-origin"]) ?? "";
			return {
				provider,
				configId,
				repository: origin,
				workflow: str(claims["oidc.circleci.com/pipeline-definition-id"]),
				ref: str(claims["oidc.circleci.com/vcs-ref"]),
				commit: null,
				run: str(claims["oidc.circleci.com/pipeline-id"]),
				environment: null,
				links: origin ? { repository: `https://${origin}` } : {},
			};
		}
	}
}
