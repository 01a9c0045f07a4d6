import { describe, expect, it } from "vitest";
import { DEFAULTS, parseConfig } from "../schema/config";

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
