import { readdirSync } from "node:fs";
import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npmProject, ok, packageJson, RegistryServer, ROOT, run } from "./harness";
import { type Issuer, REQUEST_TOKEN, startIssuer } from "./oidc-issuer";

// Publishing from CI as npm 11 does (#19), with the machine's npm (11.5 or newer) against
// `wrangler dev` and a stand-in OpenID Connect issuer on a loopback port (oidc-issuer.ts) that
// also answers GitHub's ACTIONS_ID_TOKEN_REQUEST_URL. No token is in the CI's .npmrc: npm
// exchanges the ID token for one. Provenance stays off: the tokens say the repository is private.

let server: RegistryServer;
let issuer: { issuer: Issuer; url: string; server: Server };

beforeAll(async () => {
	// npm trust, npm stage and the ID-token exchange are npm 11.5's; the machine's npm must have them.
	const version = (await ok("npm", ["--version"], { cwd: ROOT })).stdout.trim();
	const [major = 0, minor = 0] = version.split(".").map(Number);
	if (major < 11 || (major === 11 && minor < 5)) throw new Error(`these tests need npm 11.5 or newer, not ${version}`);
	issuer = await startIssuer();
	server = await RegistryServer.start({
		OIDC_ISSUERS: JSON.stringify({ github: `${issuer.url}/github`, gitlab: `${issuer.url}/gitlab` }),
	});
});

afterAll(async () => {
	await server?.stop();
	issuer?.server.close();
});

const SHA = "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d";

function githubClaims(repository: string) {
	return {
		repository,
		workflow_ref: `${repository}/.github/workflows/release.yml@refs/heads/main`,
		ref: "refs/heads/main",
		sha: SHA,
		run_id: "99",
		repository_visibility: "private",
	};
}

async function setClaims(provider: string, claims: Record<string, unknown>) {
	const res = await fetch(`${issuer.url}/${provider}/-/claims`, { method: "POST", body: JSON.stringify(claims) });
	expect(res.status).toBe(204);
}

/** A package directory as a CI checks it out: no token in its .npmrc. */
function ciCheckout(name: string, version: string): string {
	return npmProject(server, null, {
		"package.json": packageJson({ name, version, main: "index.js", license: "MIT" }),
		"index.js": `module.exports = ${JSON.stringify(version)};\n`,
	});
}

/** The environment of a GitHub Actions job with `permissions: id-token: write`. */
const githubActions = () => ({
	GITHUB_ACTIONS: "true",
	ACTIONS_ID_TOKEN_REQUEST_URL: `${issuer.url}/github/token`,
	ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
});

describe("npm trust and an OIDC publish (#19)", () => {
	it("configures a GitHub workflow with npm trust github, publishes from it with no token, and revokes it", async () => {
		const name = "e2e-trusted";
		const publisher = await server.developerToken([name]);
		const maintainer = npmProject(server, publisher, { "package.json": packageJson({ name, version: "0.0.0" }) });
		const trusted = await ok(
			"npm",
			["trust", "github", name, "--file", "release.yml", "--repository", "acme/app", "--allow-publish", "--yes"],
			{ cwd: maintainer },
		);
		expect(trusted.output).toContain("Trust configuration created successfully");
		const listed = await ok("npm", ["trust", "list", name, "--json"], { cwd: maintainer });
		const id = /"id":\s*"([0-9a-f-]{36})"/.exec(listed.stdout)?.[1] ?? "";
		expect(id).not.toBe("");
		expect(listed.stdout).toContain("acme/app");

		await setClaims("github", githubClaims("acme/app"));
		const published = await ok("npm", ["publish", "--loglevel", "verbose"], {
			cwd: ciCheckout(name, "1.0.0"),
			env: githubActions(),
		});
		expect(published.output).toContain("Successfully retrieved and set token");
		expect(published.stdout).toContain(`+ ${name}@1.0.0`);
		const view = await ok("npm", ["view", `${name}@1.0.0`, "_npmUser"], { cwd: maintainer });
		expect(view.stdout).toContain("GitHub Actions <npm-oidc-no-reply@github.com>");
		const doc = (await (
			await fetch(`${server.url}/${name}/1.0.0`, { headers: { authorization: `Bearer ${publisher}` } })
		).json()) as { _npmUser: unknown };
		expect(doc._npmUser).toMatchObject({
			name: "GitHub Actions",
			trustedPublisher: {
				id: "github",
				oidcConfigId: id,
				repository: "acme/app",
				workflow: "release.yml",
				commit: SHA,
			},
		});
		const page = await fetch(`${server.url}/package/${name}`, { headers: { authorization: `Bearer ${publisher}` } });
		expect(await page.text()).toContain("published from");

		// Another repository's workflow publishes nothing.
		await setClaims("github", githubClaims("acme/fork"));
		const refused = await run("npm", ["publish"], { cwd: ciCheckout(name, "1.0.1"), env: githubActions() });
		expect(refused.code).not.toBe(0);

		await ok("npm", ["trust", "revoke", name, "--id", id], { cwd: maintainer });
		expect((await ok("npm", ["trust", "list", name, "--json"], { cwd: maintainer })).stdout).not.toContain(id);
		await setClaims("github", githubClaims("acme/app"));
		const afterRevoke = await run("npm", ["publish"], { cwd: ciCheckout(name, "1.0.2"), env: githubActions() });
		expect(afterRevoke.code).not.toBe(0);
	});

	it("publishes from GitLab CI with the ID token in NPM_ID_TOKEN", async () => {
		const name = "e2e-gitlab";
		const publisher = await server.developerToken([name]);
		const maintainer = npmProject(server, publisher, {});
		await ok(
			"npm",
			["trust", "gitlab", name, "--file", ".gitlab-ci.yml", "--project", "acme/app", "--allow-publish", "--yes"],
			{ cwd: maintainer },
		);
		await setClaims("gitlab", {
			project_path: "acme/app",
			ci_config_ref_uri: "gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main",
			sha: SHA,
			pipeline_id: "7",
			project_visibility: "private",
		});
		const minted = await fetch(`${issuer.url}/gitlab/token?audience=npm:127.0.0.1`, {
			headers: { authorization: `Bearer ${REQUEST_TOKEN}` },
		});
		const { value } = (await minted.json()) as { value: string };
		const published = await ok("npm", ["publish"], {
			cwd: ciCheckout(name, "1.0.0"),
			env: { GITLAB_CI: "true", NPM_ID_TOKEN: value },
		});
		expect(published.stdout).toContain(`+ ${name}@1.0.0`);
	});
});

describe("npm stage (#19)", () => {
	it("stages from CI, lists, views, downloads and approves one version, and rejects another", async () => {
		const name = "e2e-staged";
		const publisher = await server.developerToken([name]);
		const maintainer = npmProject(server, publisher, {});
		await ok(
			"npm",
			[
				"trust",
				"github",
				name,
				"--file",
				"release.yml",
				"--repository",
				"acme/staged",
				"--allow-stage-publish",
				"--yes",
			],
			{ cwd: maintainer },
		);
		await setClaims("github", githubClaims("acme/staged"));
		const stageOne = await ok("npm", ["stage", "publish"], { cwd: ciCheckout(name, "1.0.0"), env: githubActions() });
		const id = /staged with id ([0-9a-f-]{36})/.exec(stageOne.output)?.[1] ?? "";
		expect(id).not.toBe("");
		// A stage-only configuration does not publish.
		expect((await run("npm", ["publish"], { cwd: ciCheckout(name, "1.0.1"), env: githubActions() })).code).not.toBe(0);
		expect((await run("npm", ["view", name], { cwd: maintainer })).code).not.toBe(0);

		const listed = await ok("npm", ["stage", "list", name, "--json"], { cwd: maintainer });
		expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id, packageName: name, version: "1.0.0" })]);
		const viewed = await ok("npm", ["stage", "view", id], { cwd: maintainer });
		expect(viewed.output).toContain("1.0.0");
		const downloaded = await ok("npm", ["stage", "download", id], { cwd: maintainer });
		expect(readdirSync(maintainer)).toContain(`${name}-1.0.0-${id}.tgz`);
		expect(downloaded.output).toContain(name);
		await ok("npm", ["stage", "approve", id], { cwd: maintainer });
		const version = await ok("npm", ["view", name, "version"], { cwd: maintainer });
		expect(version.stdout.trim()).toBe("1.0.0");

		const stageTwo = await ok("npm", ["stage", "publish"], { cwd: ciCheckout(name, "1.1.0"), env: githubActions() });
		const second = /staged with id ([0-9a-f-]{36})/.exec(stageTwo.output)?.[1] ?? "";
		await ok("npm", ["stage", "reject", second], { cwd: maintainer });
		expect((await ok("npm", ["stage", "list", name, "--json"], { cwd: maintainer })).stdout).not.toContain(second);
		expect((await ok("npm", ["view", name, "versions", "--json"], { cwd: maintainer })).stdout).not.toContain("1.1.0");
	});
});
