import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLIENTS } from "./clients-install";
import { npmProject, ok, packageJson, RegistryServer, run, tempDir, writeFiles } from "./harness";

// pnpm, yarn 4 and bun install the project npm installs, from the same registry, with the
// configuration snippets the README gives; then a restart of wrangler dev loses nothing.

let server: RegistryServer;
let token: string;

const app = { name: "clients-app", version: "1.0.0", private: true, dependencies: { "@e2e/lib": "^1.0.0" } };
const check = "process.stdout.write(require('@e2e/lib')())";

beforeAll(async () => {
	server = await RegistryServer.start();
	token = await server.developerToken(["@e2e", "e2e-util"]);
	const util = npmProject(server, token, {
		"package.json": packageJson({ name: "e2e-util", version: "1.0.0", main: "index.js" }),
		"index.js": "module.exports = (name) => 'hello ' + name;\n",
	});
	await ok("npm", ["publish", "--access", "public"], { cwd: util });
	const lib = npmProject(server, token, {
		"package.json": packageJson({
			name: "@e2e/lib",
			version: "1.0.0",
			main: "index.js",
			dependencies: { "e2e-util": "^1.0.0" },
		}),
		"index.js": "module.exports = () => require('e2e-util')('from the registry');\n",
	});
	await ok("npm", ["publish"], { cwd: lib });
});

afterAll(async () => {
	await server?.stop();
});

function installed(dir: string, name: string): string {
	return JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")).version;
}

describe("other package managers", () => {
	it("are the pinned versions the e2e set-up installed, not whatever the machine has", async () => {
		const dir = tempDir("versions");
		expect((await ok("pnpm", ["--version"], { cwd: dir })).stdout.trim()).toBe(CLIENTS.pnpm);
		expect((await ok("yarn", ["--version"], { cwd: dir })).stdout.trim()).toBe(CLIENTS["@yarnpkg/cli-dist"]);
		expect((await ok("bun", ["--version"], { cwd: dir })).stdout.trim()).toBe(CLIENTS.bun);
	});

	it("pnpm installs the project, and its minimumReleaseAge reads our publish times", async () => {
		const dir = npmProject(server, token, { "package.json": packageJson(app) });
		const pnpm = ["install", "--store-dir", join(dir, ".pnpm-store"), "--reporter", "append-only"];
		// Published seconds ago: a one-day minimumReleaseAge, reading packument `time`, holds it back.
		writeFiles(dir, { "pnpm-workspace.yaml": "minimumReleaseAge: 1440\n" });
		const gated = await run("pnpm", pnpm, { cwd: dir });
		expect(gated.code).not.toBe(0);
		expect(gated.output).toMatch(/minimumReleaseAge/);

		writeFiles(dir, {
			"pnpm-workspace.yaml": 'minimumReleaseAge: 1440\nminimumReleaseAgeExclude:\n  - "@e2e/*"\n  - e2e-util\n',
		});
		await ok("pnpm", pnpm, { cwd: dir });
		expect(installed(dir, "@e2e/lib")).toBe("1.0.0");
		expect((await ok("node", ["-e", check], { cwd: dir })).stdout).toBe("hello from the registry");
		expect(readFileSync(join(dir, "pnpm-lock.yaml"), "utf8")).toContain("e2e-util@1.0.0");
	});

	it("yarn 4 installs the project with nodeLinker: node-modules, and its age gate reads our publish times", async () => {
		const dir = tempDir("yarn");
		const yarnrc = (extra: string[]) =>
			[
				"nodeLinker: node-modules",
				`npmRegistryServer: "${server.url}"`,
				`npmAuthToken: "${token}"`,
				"npmAlwaysAuth: true",
				'unsafeHttpWhitelist: ["127.0.0.1"]',
				"enableTelemetry: false",
				"enableGlobalCache: false",
				'npmMinimalAgeGate: "1d"',
				...extra,
				"",
			].join("\n");
		const env = { YARN_ENABLE_IMMUTABLE_INSTALLS: "false" };
		writeFiles(dir, { "package.json": packageJson(app), ".yarnrc.yml": yarnrc([]) });
		// Published seconds ago: yarn's one-day gate, reading packument `time`, holds it back.
		const gated = await run("yarn", ["install"], { cwd: dir, env });
		expect(gated.code).not.toBe(0);
		expect(gated.output).toMatch(/quarantined/);

		writeFiles(dir, { ".yarnrc.yml": yarnrc(['npmPreapprovedPackages: ["@e2e/*", "e2e-util"]']) });
		await ok("yarn", ["install"], { cwd: dir, env });
		expect(installed(dir, "@e2e/lib")).toBe("1.0.0");
		expect((await ok("node", ["-e", check], { cwd: dir })).stdout).toBe("hello from the registry");
		expect(readFileSync(join(dir, "yarn.lock"), "utf8")).toContain('"@e2e/lib@npm:^1.0.0"');
	});

	it("bun installs the project", async () => {
		const dir = tempDir("bun");
		writeFiles(dir, {
			"package.json": packageJson(app),
			"bunfig.toml": [
				"[install]",
				`registry = { url = "${server.url}/", token = "${token}" }`,
				`cache = "${join(dir, ".bun-cache")}"`,
				"",
			].join("\n"),
		});
		await ok("bun", ["install"], { cwd: dir });
		expect(installed(dir, "@e2e/lib")).toBe("1.0.0");
		expect(installed(dir, "e2e-util")).toBe("1.0.0");
		expect(existsSync(join(dir, "bun.lock"))).toBe(true);
	});

	it("keeps packages, tokens and bytes across a restart of wrangler dev", async () => {
		await server.restart();
		const dir = npmProject(server, token, { "package.json": packageJson(app) });
		expect((await ok("npm", ["view", "@e2e/lib", "version"], { cwd: dir })).stdout.trim()).toBe("1.0.0");
		await ok("npm", ["install"], { cwd: dir });
		expect((await ok("node", ["-e", check], { cwd: dir })).stdout).toBe("hello from the registry");
	});
});
