import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npmProject, ok, packageJson, RegistryServer, run, tempDir, writeFiles } from "./harness";

// The real npm CLI against `wrangler dev`: the commands a team runs every day.

let server: RegistryServer;

beforeAll(async () => {
	server = await RegistryServer.start();
});

afterAll(async () => {
	await server?.stop();
});

/** A package directory ready for `npm publish`, with its own .npmrc. */
function packageDir(token: string, manifest: Record<string, unknown>, files: Record<string, string> = {}): string {
	return npmProject(server, token, {
		"package.json": packageJson({ main: "index.js", license: "MIT", ...manifest }),
		"index.js": `module.exports = ${JSON.stringify(`${manifest.name}@${manifest.version}`)};\n`,
		"README.md": `# ${manifest.name}\n`,
		...files,
	});
}

async function npmPublish(token: string, manifest: Record<string, unknown>, args: string[] = [], files = {}) {
	return ok("npm", ["publish", ...args], { cwd: packageDir(token, manifest, files) });
}

type NpmView = {
	name: string;
	versions: string[];
	dependencies?: Record<string, string>;
	dist: { tarball: string; integrity: string };
	_npmUser?: string;
};

async function viewJson(cwd: string, spec: string): Promise<NpmView> {
	return JSON.parse((await ok("npm", ["view", spec, "--json"], { cwd })).stdout);
}

describe("npm", () => {
	it("publishes scoped and unscoped packages that depend on each other and installs them into a fresh project", async () => {
		const token = await server.developerToken(["@e2e", "e2e-util"]);
		const util = await npmPublish(
			token,
			{ name: "e2e-util", version: "1.0.0", description: "greets people" },
			["--access", "public"],
			{ "index.js": "module.exports = (name) => 'hello ' + name;\n" },
		);
		expect(util.output).toContain("+ e2e-util@1.0.0");
		await npmPublish(token, { name: "@e2e/lib", version: "1.0.0", dependencies: { "e2e-util": "^1.0.0" } }, [], {
			"index.js": "module.exports = () => require('e2e-util')('e2e');\n",
		});

		const app = npmProject(server, token, {
			"package.json": packageJson({
				name: "app",
				version: "1.0.0",
				private: true,
				dependencies: { "@e2e/lib": "^1.0.0" },
			}),
		});
		const view = await viewJson(app, "@e2e/lib");
		expect(view.name).toBe("@e2e/lib");
		expect(view.dependencies).toEqual({ "e2e-util": "^1.0.0" });
		expect(view.dist.tarball).toBe(`${server.url}/@e2e/lib/-/lib-1.0.0.tgz`);

		const install = await ok("npm", ["install"], { cwd: app });
		expect(install.output).toMatch(/added 2 packages/);
		expect(install.output).toMatch(/found 0 vulnerabilities/);
		const result = await ok("node", ["-e", "process.stdout.write(require('@e2e/lib')())"], { cwd: app });
		expect(result.stdout).toBe("hello e2e");
		const lock = JSON.parse(readFileSync(join(app, "package-lock.json"), "utf8"));
		expect(lock.packages["node_modules/@e2e/lib"].integrity).toBe(view.dist.integrity);
		await ok("npm", ["audit"], { cwd: app });

		// The same install without a token: the scoped package is restricted, so it is not found.
		const anonymous = npmProject(server, null, {
			"package.json": packageJson({ name: "anon", version: "1.0.0", dependencies: { "@e2e/lib": "^1.0.0" } }),
		});
		const refused = await run("npm", ["install"], { cwd: anonymous });
		expect(refused.code).not.toBe(0);
		expect(refused.output).toMatch(/E404/);
		const publicOnly = await ok("npm", ["view", "e2e-util", "description"], { cwd: anonymous });
		expect(publicOnly.stdout.trim()).toBe("greets people");
	});

	it("installs a version right after npm publish, though the packument before it was read and cached (#10)", async () => {
		const token = await server.developerToken(["e2e-fresh"]);
		await npmPublish(token, { name: "e2e-fresh", version: "1.0.0" }, ["--access", "public"]);
		const app = npmProject(server, token, {
			"package.json": packageJson({ name: "fresh-app", version: "1.0.0", dependencies: { "e2e-fresh": "^1.0.0" } }),
		});
		await ok("npm", ["install"], { cwd: app });
		// The read tier now holds the packument; the publish must reach the very next install.
		const cached = await fetch(`${server.url}/e2e-fresh`);
		expect(cached.headers.get("x-registry-cache")).toBe("hit");
		await npmPublish(token, { name: "e2e-fresh", version: "1.1.0" });
		await ok("npm", ["install", "e2e-fresh@latest"], { cwd: app });
		const installed = JSON.parse(readFileSync(join(app, "node_modules", "e2e-fresh", "package.json"), "utf8"));
		expect(installed.version).toBe("1.1.0");
	});

	it("refuses to publish over an existing version with npm's own message", async () => {
		const token = await server.developerToken(["e2e-twice"]);
		await npmPublish(token, { name: "e2e-twice", version: "1.0.0" });
		const again = await run("npm", ["publish"], {
			cwd: packageDir(token, { name: "e2e-twice", version: "1.0.0" }, { "other.js": "1" }),
		});
		expect(again.code).not.toBe(0);
		expect(again.output).toContain("You cannot publish over the previously published versions: 1.0.0.");
	});

	it("adds, lists and removes dist-tags with npm dist-tag, and installs by tag", async () => {
		const token = await server.developerToken(["e2e-tags"]);
		await npmPublish(token, { name: "e2e-tags", version: "1.0.0" });
		await npmPublish(token, { name: "e2e-tags", version: "1.1.0" });
		const cwd = npmProject(server, token, { "package.json": packageJson({ name: "tags-app", version: "1.0.0" }) });

		await ok("npm", ["dist-tag", "add", "e2e-tags@1.0.0", "stable"], { cwd });
		const listed = await ok("npm", ["dist-tag", "ls", "e2e-tags"], { cwd });
		expect(listed.stdout).toContain("latest: 1.1.0");
		expect(listed.stdout).toContain("stable: 1.0.0");
		await ok("npm", ["install", "e2e-tags@stable"], { cwd });
		expect(JSON.parse(readFileSync(join(cwd, "node_modules/e2e-tags/package.json"), "utf8")).version).toBe("1.0.0");

		await ok("npm", ["dist-tag", "rm", "e2e-tags", "stable"], { cwd });
		const after = await ok("npm", ["dist-tag", "ls", "e2e-tags"], { cwd });
		expect(after.stdout.trim()).toBe("latest: 1.1.0");
	});

	it("deprecates and undeprecates a version with npm deprecate", async () => {
		const token = await server.developerToken(["e2e-old"]);
		await npmPublish(token, { name: "e2e-old", version: "1.0.0" });
		await npmPublish(token, { name: "e2e-old", version: "2.0.0" });
		const cwd = npmProject(server, token, { "package.json": packageJson({ name: "dep-app", version: "1.0.0" }) });

		await ok("npm", ["deprecate", "e2e-old@1.0.0", "use 2.0.0 instead"], { cwd });
		expect((await ok("npm", ["view", "e2e-old@1.0.0", "deprecated"], { cwd })).stdout.trim()).toBe("use 2.0.0 instead");
		const install = await ok("npm", ["install", "e2e-old@1.0.0"], { cwd });
		expect(install.output).toMatch(/deprecated e2e-old@1\.0\.0: use 2\.0\.0 instead/);
		expect((await ok("npm", ["view", "e2e-old@2.0.0", "deprecated"], { cwd })).stdout.trim()).toBe("");

		await ok("npm", ["deprecate", "e2e-old@1.0.0", ""], { cwd });
		expect((await ok("npm", ["view", "e2e-old@1.0.0", "deprecated"], { cwd })).stdout.trim()).toBe("");
	});

	it("unpublishes one version and then a whole package with npm unpublish", async () => {
		const token = await server.developerToken(["e2e-gone"]);
		await npmPublish(token, { name: "e2e-gone", version: "1.0.0" });
		await npmPublish(token, { name: "e2e-gone", version: "1.1.0-beta.0" }, ["--tag", "beta"]);
		const cwd = npmProject(server, token, { "package.json": packageJson({ name: "gone-app", version: "1.0.0" }) });

		// A version in a channel's recent history is protected; dropping the tag releases it.
		const protectedVersion = await run("npm", ["unpublish", "e2e-gone@1.1.0-beta.0"], { cwd });
		expect(protectedVersion.code).not.toBe(0);
		expect(protectedVersion.output).toMatch(/protected/);
		await ok("npm", ["dist-tag", "rm", "e2e-gone", "beta"], { cwd });
		await ok("npm", ["unpublish", "e2e-gone@1.1.0-beta.0"], { cwd });
		const view = await viewJson(cwd, "e2e-gone");
		expect(view.versions).toEqual(["1.0.0"]);
		expect((await run("npm", ["view", "e2e-gone@1.1.0-beta.0", "version"], { cwd })).stdout.trim()).toBe("");

		await ok("npm", ["unpublish", "e2e-gone", "--force"], { cwd });
		const gone = await run("npm", ["view", "e2e-gone"], { cwd });
		expect(gone.code).not.toBe(0);
		expect(gone.output).toMatch(/E404/);
		const republish = await run("npm", ["publish"], { cwd: packageDir(token, { name: "e2e-gone", version: "1.0.0" }) });
		expect(republish.output).toContain("You cannot publish over the previously published versions: 1.0.0.");
	});

	it("installs a package that was only uploaded: latest follows the upload (#24.1)", async () => {
		const token = await server.developerToken(["e2e-uploaded"]);
		const build = tempDir("build");
		writeFiles(build, { "index.js": "module.exports = 'uploaded';\n" });
		const tgz = join(tempDir("bundle"), "build.tgz");
		await ok("tar", ["czf", tgz, "-C", build, "."], { cwd: build });
		const res = await fetch(`${server.url}/packages/e2e-uploaded/upload?version=1.0.0&access=public`, {
			method: "POST",
			headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip" },
			body: readFileSync(tgz),
		});
		expect(res.status).toBe(201);
		expect(((await res.json()) as { channelsMoved: string[] }).channelsMoved).toEqual(["latest"]);
		const cwd = npmProject(server, token, { "package.json": packageJson({ name: "app", version: "1.0.0" }) });
		expect((await ok("npm", ["view", "e2e-uploaded", "version"], { cwd })).stdout.trim()).toBe("1.0.0");
		await ok("npm", ["install", "e2e-uploaded"], { cwd });
		expect((await ok("node", ["-p", "require('e2e-uploaded')"], { cwd })).stdout.trim()).toBe("uploaded");
	});

	it("lists a token publisher with npm owner ls without <undefined> (#24.6)", async () => {
		const ci = await server.developerToken(["e2e-by-ci"], "ci");
		const cwd = npmProject(server, ci, { "package.json": packageJson({ name: "e2e-by-ci", version: "1.0.0" }) });
		await ok("npm", ["publish", "--access", "public"], { cwd });
		const owners = await ok("npm", ["owner", "ls", "e2e-by-ci"], { cwd });
		expect(owners.stdout.trim()).toBe("ci <>");
	});

	it("logs in with npm login, answers whoami and ping, publishes as that user and logs out", async () => {
		await server.admin("POST", "/-/admin/users", {
			name: "bob",
			password: "bob-secret-password",
			email: "bob@example.com",
			grants: [{ scope: "@bob", permissions: ["read", "upload", "publish"] }],
		});
		const cwd = npmProject(server, null, {
			"package.json": packageJson({ name: "@bob/tool", version: "1.0.0", main: "index.js" }),
			"index.js": "module.exports = 1;\n",
		});
		// npm login writes the token to the user config: here, the project's own .npmrc.
		const userconfig = `--userconfig=${join(cwd, ".npmrc")}`;
		const login = await ok("npm", ["login", userconfig], {
			cwd,
			answers: [
				[/Username:/, "bob"],
				[/Password:/, "bob-secret-password"],
			],
		});
		expect(login.output).toContain(`Logged in on ${server.url}/`);
		expect(readFileSync(join(cwd, ".npmrc"), "utf8")).toMatch(/:_authToken=dev_[0-9a-f]{64}/);
		expect((await ok("npm", ["whoami", userconfig], { cwd })).stdout.trim()).toBe("bob");
		expect((await ok("npm", ["ping"], { cwd })).output).toMatch(/PONG/);

		await ok("npm", ["publish"], { cwd });
		const view = await viewJson(cwd, "@bob/tool");
		expect(view._npmUser).toBe("bob <bob@example.com>");

		const elsewhere = tempDirWithNpmrc();
		const wrong = await run("npm", ["login", `--userconfig=${join(elsewhere, ".npmrc")}`], {
			cwd: elsewhere,
			answers: [
				[/Username:/, "bob"],
				[/Password:/, "not-the-password"],
			],
		});
		expect(wrong.code).not.toBe(0);
		expect(wrong.output).toMatch(/E401|incorrect/);

		const tokenLine = readFileSync(join(cwd, ".npmrc"), "utf8").match(/^.*:_authToken=.*$/m)?.[0];
		await ok("npm", ["logout", userconfig], { cwd });
		const after = await run("npm", ["whoami", userconfig], { cwd });
		expect(after.code).not.toBe(0);
		// npm ping "verifies authentication": the token logout revoked fails it, as it would an install.
		const stale = tempDir("stale");
		writeFiles(stale, { ".npmrc": `registry=${server.url}/\nupdate-notifier=false\n${tokenLine}\n` });
		const pong = await run("npm", ["ping", `--userconfig=${join(stale, ".npmrc")}`], { cwd: stale });
		expect(pong.code).not.toBe(0);
		expect(pong.output).toMatch(/E401/);
	});
});

function tempDirWithNpmrc(): string {
	const dir = tempDir("login");
	writeFiles(dir, { ".npmrc": `registry=${server.url}/\nupdate-notifier=false\n` });
	return dir;
}
