import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npmProject, ok, packageJson, RegistryServer, run, tempDir, writeFiles } from "./harness";
import { RecordingFront } from "./upstream-proxy";

// One registry URL for everything: a registry with an upstream registry behind it (a second
// instance of this registry, fresh, behind a front that records what it is asked). npm, pnpm, yarn
// and bun install an app that needs a local package and upstream packages with dependencies of
// their own, through the one URL; then upstream serves bad bytes, then it goes away.

let upstream: RegistryServer;
let front: RecordingFront;
let registry: RegistryServer;
let token: string;

/** Upstream's packages: a dependency tree, two names this registry owns, two never fetched before their test. */
const UPSTREAM_PACKAGES: Record<string, { version: string; deps?: Record<string, string>; main: string }> = {
	"e2e-pad": { version: "1.0.0", main: "module.exports = (s, n) => String(s).padStart(n);" },
	"e2e-paint": {
		version: "2.0.0",
		deps: { "e2e-pad": "^1.0.0" },
		main: "module.exports = (s) => '[' + require('e2e-pad')(s, 4) + ']';",
	},
	"e2e-format": {
		version: "3.0.0",
		deps: { "e2e-paint": "^2.0.0" },
		main: "module.exports = (s) => require('e2e-paint')(String(s).toUpperCase());",
	},
	"shared-name": { version: "5.0.0", main: "module.exports = 'upstream';" },
	"@acc/secret": { version: "9.9.9", main: "module.exports = 'upstream';" },
	"e2e-never": { version: "1.0.0", main: "module.exports = 'never';" },
	"e2e-tampered": { version: "1.0.0", main: "module.exports = 'tampered';" },
};
const UPSTREAM_TREE = ["e2e-format", "e2e-paint", "e2e-pad"];

const app = {
	name: "one-url-app",
	version: "1.0.0",
	private: true,
	dependencies: { "@acc/lib": "^1.0.0", "e2e-format": "^3.0.0", "shared-name": "*", "@acc/secret": "*" },
};
const check = "process.stdout.write(require('@acc/lib')())";
const expected = "[  HI] local local";

async function publishTo(
	server: RegistryServer,
	publisher: string,
	name: string,
	version: string,
	main: string,
	deps = {},
) {
	const dir = npmProject(server, publisher, {
		"package.json": packageJson({ name, version, main: "index.js", license: "MIT", dependencies: deps }),
		"index.js": `${main}\n`,
	});
	await ok("npm", ["publish", "--access", "public"], { cwd: dir });
}

beforeAll(async () => {
	front = await RecordingFront.reserve();
	// Upstream builds its tarball URLs from its public URL: the front, as for any real registry.
	upstream = await RegistryServer.start({ PUBLIC_URL: front.url, DEFAULT_ACCESS: "public" });
	await front.listen(upstream.url);
	registry = await RegistryServer.start({ UPSTREAM_URL: front.url, OWNED_SCOPES: "@acc" });

	const upstreamPublisher = await upstream.developerToken(["@acc", ...Object.keys(UPSTREAM_PACKAGES)]);
	for (const [name, { version, deps, main }] of Object.entries(UPSTREAM_PACKAGES)) {
		await publishTo(upstream, upstreamPublisher, name, version, main, deps);
	}

	token = await registry.developerToken(["@acc", "shared-name"]);
	await registry.admin("POST", "/-/admin/claims", { name: "shared-name" });
	await publishTo(registry, token, "shared-name", "1.0.0", "module.exports = 'local';");
	await publishTo(registry, token, "@acc/secret", "1.0.0", "module.exports = 'local';");
	await publishTo(
		registry,
		token,
		"@acc/lib",
		"1.0.0",
		"module.exports = () => [require('e2e-format')('hi'), require('shared-name'), require('@acc/secret')].join(' ');",
		{ "e2e-format": "^3.0.0", "shared-name": "*", "@acc/secret": "*" },
	);
}, 240_000);

afterAll(async () => {
	await registry?.stop();
	await front?.close();
	await upstream?.stop();
});

function installed(dir: string, name: string): string {
	return JSON.parse(readFileSync(join(dir, "node_modules", name, "package.json"), "utf8")).version;
}

/** What upstream itself publishes as a package's integrity (asked directly, not through the registry). */
async function upstreamIntegrity(name: string): Promise<string> {
	const doc = (await (await fetch(`${upstream.url}/${name}`)).json()) as {
		versions: Record<string, { dist: { integrity: string } }>;
	};
	const version = UPSTREAM_PACKAGES[name]?.version ?? "";
	return doc.versions[version]?.dist.integrity ?? "";
}

/** The app's dependencies as installed; `hoisted`: the upstream tree's inner packages are at the top too. */
function expectLocalVersions(dir: string, hoisted = true): void {
	expect(installed(dir, "@acc/lib")).toBe("1.0.0");
	expect(installed(dir, "shared-name")).toBe("1.0.0");
	expect(installed(dir, "@acc/secret")).toBe("1.0.0");
	expect(installed(dir, "e2e-format")).toBe("3.0.0");
	if (!hoisted) return;
	expect(installed(dir, "e2e-paint")).toBe("2.0.0");
	expect(installed(dir, "e2e-pad")).toBe("1.0.0");
}

describe("one registry URL with an upstream behind it", () => {
	it("npm installs local and upstream packages, with upstream's integrity, and only the local versions of names this registry owns", async () => {
		const dir = npmProject(registry, token, { "package.json": packageJson(app) });
		await ok("npm", ["install"], { cwd: dir });
		expectLocalVersions(dir);
		expect((await ok("node", ["-e", check], { cwd: dir })).stdout).toBe(expected);
		const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8"));
		for (const name of UPSTREAM_TREE) {
			const entry = lock.packages[`node_modules/${name}`];
			expect(entry.integrity).toBe(await upstreamIntegrity(name));
			expect(entry.resolved).toBe(`${registry.url}/${name}/-/${name}-${UPSTREAM_PACKAGES[name]?.version}.tgz`);
		}
		// Upstream was never asked about the owned scope, nor about the name claimed before anything asked.
		expect(front.log.filter((r) => r.path.startsWith("/@acc"))).toEqual([]);
		expect(front.requestsFor("shared-name")).toEqual([]);
		expect(front.requestsFor("e2e-format").length).toBeGreaterThan(0);
	});

	it("pnpm installs the same, with upstream's integrity in its lockfile", async () => {
		const dir = npmProject(registry, token, {
			"package.json": packageJson(app),
			"pnpm-workspace.yaml": "minimumReleaseAge: 0\n",
		});
		await ok("pnpm", ["install", "--store-dir", join(dir, ".pnpm-store"), "--reporter", "append-only"], { cwd: dir });
		// pnpm links only direct dependencies at the top; the rest of the tree is in its lockfile.
		expectLocalVersions(dir, false);
		expect((await ok("node", ["-e", check], { cwd: dir })).stdout).toBe(expected);
		const lock = readFileSync(join(dir, "pnpm-lock.yaml"), "utf8");
		for (const name of UPSTREAM_TREE) {
			expect(lock).toContain(`${name}@${UPSTREAM_PACKAGES[name]?.version}:`);
			expect(lock).toContain(await upstreamIntegrity(name));
		}
	});

	it("yarn 4 installs the same", async () => {
		const dir = tempDir("yarn-upstream");
		writeFiles(dir, {
			"package.json": packageJson(app),
			".yarnrc.yml": [
				"nodeLinker: node-modules",
				`npmRegistryServer: "${registry.url}"`,
				`npmAuthToken: "${token}"`,
				"npmAlwaysAuth: true",
				'unsafeHttpWhitelist: ["127.0.0.1"]',
				"enableTelemetry: false",
				"enableGlobalCache: false",
				"npmMinimalAgeGate: 0",
				"",
			].join("\n"),
		});
		await ok("yarn", ["install"], { cwd: dir, env: { YARN_ENABLE_IMMUTABLE_INSTALLS: "false" } });
		expectLocalVersions(dir);
		expect((await ok("node", ["-e", check], { cwd: dir })).stdout).toBe(expected);
		expect(readFileSync(join(dir, "yarn.lock"), "utf8")).toContain('"e2e-pad@npm:^1.0.0"');
	});

	it("bun installs the same, with upstream's integrity in its lockfile", async () => {
		const dir = tempDir("bun-upstream");
		writeFiles(dir, {
			"package.json": packageJson(app),
			"bunfig.toml": [
				"[install]",
				`registry = { url = "${registry.url}/", token = "${token}" }`,
				`cache = "${join(dir, ".bun-cache")}"`,
				"",
			].join("\n"),
		});
		await ok("bun", ["install"], { cwd: dir });
		expectLocalVersions(dir);
		expect((await ok("node", ["-e", check], { cwd: dir })).stdout).toBe(expected);
		const lock = readFileSync(join(dir, "bun.lock"), "utf8");
		for (const name of UPSTREAM_TREE) expect(lock).toContain(await upstreamIntegrity(name));
	});

	it("refuses to publish a name upstream has that nobody claimed", async () => {
		const publisher = await registry.developerToken(["e2e-pad"], "e2e-pad");
		const dir = npmProject(registry, publisher, {
			"package.json": packageJson({ name: "e2e-pad", version: "9.0.0", main: "index.js" }),
			"index.js": "module.exports = 'shadow';\n",
		});
		const refused = await run("npm", ["publish"], { cwd: dir });
		expect(refused.code).not.toBe(0);
		expect(refused.output).toContain("409");
		expect(refused.output).toContain("e2e-pad exists in the upstream registry");
	});

	it("fails an install whose upstream tarball does not match its integrity, keeps nothing, and fetches again next time", async () => {
		const path = "/e2e-tampered/-/e2e-tampered-1.0.0.tgz";
		const project = () =>
			npmProject(registry, token, {
				"package.json": packageJson({
					name: "tamper-app",
					version: "1.0.0",
					dependencies: { "e2e-tampered": "1.0.0" },
				}),
			});
		front.tamper(path);
		const logged = registry.output.length;
		const failed = await run("npm", ["install", "--fetch-retries=0"], { cwd: project() });
		expect(failed.code).not.toBe(0);
		// #22.13: checked before any byte went out, the tarball is refused with the catalogue's 502,
		// which npm shows as it is; nothing is logged as an uncaught exception.
		expect(failed.output).toContain("E502");
		expect(failed.output).toContain(
			"upstream tarball of e2e-tampered@1.0.0: the bytes do not match the integrity upstream published; nothing was stored",
		);
		expect(registry.output.slice(logged)).not.toMatch(/disconnected prematurely|uncaught/i);
		front.untamper(path);
		const dir = project();
		await ok("npm", ["install", "--fetch-retries=0"], { cwd: dir });
		expect(installed(dir, "e2e-tampered")).toBe("1.0.0");
		// Had the bad bytes been kept, the second install would not have needed upstream again.
		expect(front.requestsFor("e2e-tampered").filter((r) => r.path === path)).toHaveLength(2);
	});

	it("keeps installing what it fetched once upstream is gone, and says why a package never fetched cannot be", async () => {
		await front.close();
		await upstream.stop();
		const dir = npmProject(registry, token, { "package.json": packageJson(app) });
		await ok("npm", ["install", "--fetch-retries=0"], { cwd: dir });
		expectLocalVersions(dir);
		expect((await ok("node", ["-e", check], { cwd: dir })).stdout).toBe(expected);

		const never = npmProject(registry, token, {
			"package.json": packageJson({ name: "never-app", version: "1.0.0", dependencies: { "e2e-never": "1.0.0" } }),
		});
		const failed = await run("npm", ["install", "--fetch-retries=0"], { cwd: never });
		expect(failed.code).not.toBe(0);
		expect(failed.output).toContain("502");
		expect(failed.output).toMatch(/upstream packument of e2e-never from http:\/\/127\.0\.0\.1:\d+: /);
	});
});

describe("the log", () => {
	it("#22.13 does not log a client that goes away mid-publish as an error, and nothing of its publish is kept", async () => {
		const logged = registry.output.length;
		// In an owned scope: a name upstream is never asked about, so the 404 below is this registry's own.
		const name = "@acc/e2e-gone";
		await new Promise<void>((resolve) => {
			const req = httpRequest(`${registry.url}/${name}`, {
				method: "PUT",
				headers: {
					authorization: `Bearer ${registry.adminToken}`,
					"content-type": "application/json",
					"content-length": String(8 * 1024 * 1024),
				},
			});
			req.on("error", () => resolve());
			req.on("response", () => resolve());
			const start = `{"name":"${name}","versions":{"1.0.0":{"name":"${name}","version":"1.0.0"}},"_attachments":{"${name}-1.0.0.tgz":{"data":"`;
			// Part of the body, then the connection closes, as a publish interrupted with Ctrl-C.
			req.write(start + "A".repeat(2 * 1024 * 1024), () => {
				req.destroy();
				resolve();
			});
		});
		// What the registry logs about it comes as it handles the closed connection: watched for two
		// seconds (the absence of a line has no event to wait for). wrangler dev's own proxy, in front
		// of the Worker and absent on Cloudflare, reports the lost connection; the registry must not.
		const ours = () =>
			registry.output
				.slice(logged)
				.split("\n")
				.filter((line) => !line.includes("Error inside ProxyWorker"))
				.join("\n");
		const quiet = /unhandled error|Network connection lost|internal server error/;
		const deadline = Date.now() + 2_000;
		while (Date.now() < deadline && !quiet.test(ours())) {
			await new Promise((r) => setTimeout(r, 100));
		}
		expect((await fetch(`${registry.url}/${name}`)).status).toBe(404);
		expect(ours()).not.toMatch(quiet);
	});
});
