// The client configuration of an org's scope with this registry (GET /-/org/{org}/setup and the
// org's page): what a project commits so that npm, pnpm, yarn and bun fetch @org/* from here, with
// the token from the NPM_TOKEN environment variable (never a token written into the file).

export type ClientSetup = { scope: string; registry: string; npmrc: string; yarnrc: string; bunfig: string };

export function clientSetup(org: string, baseUrl: string): ClientSetup {
	const registry = `${baseUrl}/`;
	const authority = registry.replace(/^https?:/, "");
	return {
		scope: `@${org}`,
		registry,
		npmrc: `@${org}:registry=${registry}\n${authority}:_authToken=\${NPM_TOKEN}\n`,
		yarnrc: `npmScopes:\n  ${org}:\n    npmRegistryServer: "${registry}"\n    npmAuthToken: "\${NPM_TOKEN}"\n`,
		bunfig: `[install.scopes]\n${org} = { url = "${registry}", token = "$NPM_TOKEN" }\n`,
	};
}
