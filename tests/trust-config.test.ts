import { describe, expect, it } from "vitest";
import { DEFAULTS, parseConfig } from "../schema/config";
import { matchTrust } from "../worker/trust/matching";

// OIDC_ISSUERS and STAGE_TTL_DAYS (#19): which CI providers' ID tokens are trusted, and how long
// staged versions wait.

describe("OIDC_ISSUERS (#19)", () => {
	it("defaults to the real issuers of GitHub Actions, GitLab.com and CircleCI", () => {
		expect(parseConfig({}).oidcIssuers).toEqual([
			{ provider: "github", url: "https://token.actions.githubusercontent.com" },
			{ provider: "gitlab", url: "https://gitlab.com" },
			{ provider: "circleci", url: "https://oidc.circleci.com/org" },
		]);
		expect(parseConfig({ OIDC_ISSUERS: "not json" }).oidcIssuers).toEqual(parseConfig({}).oidcIssuers);
		expect(JSON.parse(DEFAULTS.oidcIssuers)).toHaveProperty("github");
	});

	it("takes https issuers, plain http only on loopback, and only providers npm knows", () => {
		const issuers = parseConfig({
			OIDC_ISSUERS: JSON.stringify({
				github: "http://127.0.0.1:9000/github/",
				gitlab: "http://gitlab.internal",
				circleci: "https://oidc.circleci.com/org",
				bitbucket: "https://bitbucket.org",
			}),
		}).oidcIssuers;
		expect(issuers).toEqual([
			{ provider: "github", url: "http://127.0.0.1:9000/github" },
			{ provider: "circleci", url: "https://oidc.circleci.com/org" },
		]);
	});
});

describe("STAGE_TTL_DAYS (#19)", () => {
	it("is 7 days unless set", () => {
		expect(parseConfig({}).stageTtlMs).toBe(7 * 86_400_000);
		expect(parseConfig({ STAGE_TTL_DAYS: "1" }).stageTtlMs).toBe(86_400_000);
		expect(parseConfig({ STAGE_TTL_DAYS: "-3" }).stageTtlMs).toBe(7 * 86_400_000);
	});
});

describe("CircleCI trust configurations (#19)", () => {
	const ids = {
		org: "0b5b7a5e-8f6e-4d4e-9f0a-2c1d3e4f5a6b",
		project: "1c6c8b6f-9a7f-4e5f-8a1b-3d2e4f5a6b7c",
		pipeline: "2d7d9c7a-ab8a-4f6a-9b2c-4e3f5a6b7c8d",
		context: "3e8ead8b-bc9b-4a7b-8c3d-5f4a6b7c8d9e",
	};
	const config = {
		id: "c1",
		type: "circleci" as const,
		claims: {
			"oidc.circleci.com/org-id": ids.org,
			"oidc.circleci.com/project-id": ids.project,
			"oidc.circleci.com/pipeline-definition-id": ids.pipeline,
			"oidc.circleci.com/vcs-origin": "github.com/acme/app",
			"oidc.circleci.com/context-ids": [ids.context],
		},
		permissions: ["createPackage" as const],
		createdAt: "",
		createdBy: "",
	};
	const claims = {
		"oidc.circleci.com/org-id": ids.org,
		"oidc.circleci.com/project-id": ids.project,
		"oidc.circleci.com/pipeline-definition-id": ids.pipeline,
		"oidc.circleci.com/vcs-origin": "github.com/acme/app",
		"oidc.circleci.com/context-ids": [ids.context, "another"],
	};

	it("match every configured claim, and every configured context among the token's", () => {
		expect(matchTrust("circleci", claims, [config])).toEqual({ ok: true, configs: [config] });
		expect(matchTrust("circleci", { ...claims, "oidc.circleci.com/context-ids": [] }, [config])).toEqual({
			ok: false,
			why: "a configured context is missing",
		});
		expect(matchTrust("circleci", { ...claims, "oidc.circleci.com/project-id": ids.org }, [config]).ok).toBe(false);
		expect(matchTrust("github", claims, [config])).toEqual({ ok: false, why: "none is for github" });
	});
});
