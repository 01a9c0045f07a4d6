import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalVerdaccio, startVerdaccio } from "../../scripts/local-verdaccio.mjs";
import {
	cleanEnv,
	freePort,
	npmProject,
	ok,
	packageJson,
	RegistryServer,
	ROOT,
	type RunResult,
	run,
	tempDir,
	writeFiles,
} from "./harness";

// `npm run migrate` (#18) from a real Verdaccio (no uplinks) into `wrangler dev`: packages with
// several versions, a second dist-tag and a deprecation, published with the real npm CLI; then
// installed from this registry with npm and pnpm. A tarball corrupted in Verdaccio's storage is
// reported and not imported; an interrupted migration finishes when run again.

let verdaccio: LocalVerdaccio;
let server: RegistryServer;

type Packument = {
	"dist-tags": Record<string, string>;
	versions: Record<string, { deprecated?: string; dist: { integrity: string }; dependencies?: unknown }>;
	time: Record<string, string>;
	maintainers?: { name: string }[];
	readme?: string;
};

/** Publishes a package into Verdaccio with npm, as its users did. */
async function publishToVerdaccio(
	manifest: Record<string, unknown>,
	files: Record<string, string>,
	args: string[] = [],
) {
	const dir = tempDir("source");
	const host = verdaccio.url.replace(/^http:/, "");
	writeFiles(dir, {
		".npmrc": [
			`registry=${verdaccio.url}/`,
			`${host}/:_authToken=${verdaccio.token}`,
			`cache=${join(dir, ".npm-cache")}`,
			"update-notifier=false",
			"",
		].join("\n"),
		"package.json": packageJson({ license: "MIT", main: "index.js", ...manifest }),
		...files,
	});
	await ok("npm", ["publish", ...args], { cwd: dir });
	return dir;
}

async function readJson<T>(url: string, token?: string): Promise<T> {
	const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
	if (!res.ok) throw new Error(`${url}: ${res.status}`);
	return res.json() as Promise<T>;
}

const fromVerdaccio = (name: string) => readJson<Packument>(`${verdaccio.url}/${name.replace("/", "%2f")}`);
const fromRegistry = (name: string) =>
	readJson<Packument>(`${server.url}/${name.replace("/", "%2f")}`, server.adminToken);

function migrate(args: string[]): Promise<RunResult> {
	return run(
		"npm",
		[
			"run",
			"--silent",
			"migrate",
			"--",
			"--from",
			verdaccio.url,
			"--to",
			server.url,
			"--to-token",
			server.adminToken,
			...args,
		],
		{ cwd: ROOT, timeoutMs: 170_000 },
	);
}

beforeAll(async () => {
	verdaccio = await startVerdaccio({ dir: tempDir("verdaccio"), port: await freePort(), env: cleanEnv() });
	server = await RegistryServer.start();
	await publishToVerdaccio({ name: "acme-util", version: "1.0.0" }, { "index.js": "module.exports = 'util 1.0.0';\n" });
	for (const version of ["1.0.0", "1.1.0"]) {
		await publishToVerdaccio(
			{ name: "@acme/widgets", version, dependencies: { "acme-util": "^1.0.0" } },
			{
				"index.js": `module.exports = 'widgets ${version} with ' + require('acme-util');\n`,
				"README.md": `# widgets ${version}\n`,
			},
		);
	}
	const beta = await publishToVerdaccio(
		{ name: "@acme/widgets", version: "2.0.0-beta.1" },
		{ "index.js": "module.exports = 'widgets beta';\n", "README.md": "# widgets beta\n" },
		["--tag", "beta"],
	);
	await ok("npm", ["deprecate", "@acme/widgets@1.0.0", "use 1.1.0"], { cwd: beta });
	await publishToVerdaccio({ name: "@acme/broken", version: "1.0.0" }, { "index.js": "module.exports = 1;\n" });
	// The stored bytes change under Verdaccio: it serves them, its packument still names the old integrity.
	const stored = join(verdaccio.storage, "@acme", "broken", "broken-1.0.0.tgz");
	const bytes = readFileSync(stored);
	bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
	writeFileSync(stored, bytes);
}, 240_000);

afterAll(async () => {
	await server?.stop();
	await verdaccio?.stop();
});

describe("npm run migrate from Verdaccio (#18)", () => {
	it("--dry-run says what would be copied and writes nothing", async () => {
		const result = await migrate(["--scope", "@acme", "--package", "acme-util", "--dry-run"]);
		expect(result.code, result.output).toBe(0);
		expect(result.output).toMatch(/dry run: 5 versions would be copied, 0 already present/);
		const res = await fetch(`${server.url}/acme-util`, { headers: { authorization: `Bearer ${server.adminToken}` } });
		expect(res.status).toBe(404);
	});

	it("copies every version with its time, dist-tags, deprecation and README, and reports the corrupted tarball", async () => {
		const result = await migrate(["--scope", "@acme", "--package", "acme-util"]);
		expect(result.code, result.output).toBe(1);
		expect(result.output).toMatch(/discovery: .*Verdaccio's package list: \d+ found/);
		expect(result.output).toMatch(/copied 4, already present 0, failed 1/);
		expect(result.output).toMatch(/failed @acme\/broken@1\.0\.0: the tarball does not match dist\.integrity/);

		const source = await fromVerdaccio("@acme/widgets");
		const copied = await fromRegistry("@acme/widgets");
		expect(copied["dist-tags"]).toEqual(source["dist-tags"]);
		expect(copied["dist-tags"]).toEqual({ latest: "1.1.0", beta: "2.0.0-beta.1" });
		for (const version of ["1.0.0", "1.1.0", "2.0.0-beta.1"]) {
			expect(copied.time[version]).toBe(new Date(source.time[version] ?? "").toISOString());
			expect(copied.versions[version]?.dist.integrity).toBe(source.versions[version]?.dist.integrity);
		}
		expect(copied.time.created).toBe(new Date(source.time.created ?? "").toISOString());
		expect(copied.versions["1.0.0"]?.deprecated).toBe("use 1.1.0");
		expect(copied.versions["1.1.0"]?.deprecated).toBeUndefined();
		expect(copied.readme).toBe("# widgets 1.1.0\n");
		// Verdaccio keeps no maintainers nor `_npmUser`: the admin who imported stands for them.
		expect(source.maintainers).toBeUndefined();
		expect(copied.maintainers).toHaveLength(1);

		const broken = await fetch(`${server.url}/@acme%2fbroken`, {
			headers: { authorization: `Bearer ${server.adminToken}` },
		});
		expect(broken.status).toBe(404);
	});

	it("the migrated packages install with npm and pnpm", async () => {
		const app = { name: "migrated-app", version: "1.0.0", private: true, dependencies: { "@acme/widgets": "^1.0.0" } };
		const check = "process.stdout.write(require('@acme/widgets'))";
		const npmDir = npmProject(server, server.adminToken, { "package.json": packageJson(app) });
		await ok("npm", ["install"], { cwd: npmDir });
		expect((await ok("node", ["-e", check], { cwd: npmDir })).stdout).toBe("widgets 1.1.0 with util 1.0.0");

		const pnpmDir = npmProject(server, server.adminToken, {
			"package.json": packageJson({ ...app, dependencies: { "@acme/widgets": "beta" } }),
		});
		await ok("pnpm", ["install", "--store-dir", join(pnpmDir, ".pnpm-store"), "--reporter", "append-only"], {
			cwd: pnpmDir,
		});
		expect((await ok("node", ["-e", check], { cwd: pnpmDir })).stdout).toBe("widgets beta");
	});

	it("run again, copies nothing and doubles nothing, and brings deprecations made since", async () => {
		const before = await fromRegistry("@acme/widgets");
		const dir = tempDir("deprecate");
		writeFiles(dir, {
			".npmrc": `registry=${verdaccio.url}/\n${verdaccio.url.replace(/^http:/, "")}/:_authToken=${verdaccio.token}\n`,
		});
		await ok("npm", ["deprecate", "@acme/widgets@1.1.0", "use 2"], { cwd: dir });
		const result = await migrate(["--scope", "@acme", "--package", "acme-util"]);
		expect(result.output).toMatch(/copied 0, already present 4, failed 1/);
		const after = await fromRegistry("@acme/widgets");
		expect(after.time.created).toEqual(before.time.created);
		expect(after.time["1.1.0"]).toEqual(before.time["1.1.0"]);
		expect(after.versions["1.1.0"]?.deprecated).toBe("use 2");
		const history = await readJson<{ history: unknown[] }>(
			`${server.url}/packages/@acme/widgets/channels/beta/history`,
			server.adminToken,
		);
		expect(history.history).toHaveLength(1);
	});

	it("an interrupted migration, run again, finishes with nothing doubled", async () => {
		for (const name of ["@bulk/one", "@bulk/two", "@bulk/three"]) {
			for (const version of ["1.0.0", "1.0.1"]) {
				await publishToVerdaccio({ name, version }, { "index.js": `module.exports = '${version}';\n` });
			}
		}
		const args = ["--scope", "@bulk", "--concurrency", "1"];
		// Killed (SIGKILL, no chance to tidy up) as soon as the first version is copied.
		const interrupted = await new Promise<string>((resolveRun) => {
			const child = spawn(
				"npm",
				[
					"run",
					"--silent",
					"migrate",
					"--",
					"--from",
					verdaccio.url,
					"--to",
					server.url,
					"--to-token",
					server.adminToken,
					...args,
				],
				{ cwd: ROOT, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true },
			);
			let output = "";
			const onData = (chunk: Buffer) => {
				output += chunk;
				if (/^copied {2}/m.test(output) && child.pid) process.kill(-child.pid, "SIGKILL");
			};
			child.stdout.on("data", onData);
			child.stderr.on("data", onData);
			child.on("close", () => resolveRun(output));
		});
		expect(interrupted).not.toMatch(/already present/);

		const resumed = await migrate(args);
		expect(resumed.code, resumed.output).toBe(0);
		const [, copied = "0", present = "0"] = /copied (\d+), already present (\d+), failed 0/.exec(resumed.output) ?? [];
		expect(Number(present)).toBeGreaterThanOrEqual(1);
		expect(Number(copied)).toBeGreaterThanOrEqual(1);
		expect(Number(copied) + Number(present)).toBe(6);
		for (const name of ["@bulk/one", "@bulk/two", "@bulk/three"]) {
			const doc = await fromRegistry(name);
			expect(Object.keys(doc.versions).sort()).toEqual(["1.0.0", "1.0.1"]);
			expect(doc["dist-tags"]).toEqual({ latest: "1.0.1" });
			const history = await readJson<{ history: unknown[] }>(
				`${server.url}/packages/${name}/channels/latest/history`,
				server.adminToken,
			);
			expect(history.history).toHaveLength(1);
		}
	});
});

describe("npm run migrate against a source that misbehaves (#18)", () => {
	/** A source on a loopback port: `answer` decides what each request gets. */
	async function source(answer: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
		const port = await freePort();
		const listening = createServer(answer);
		await new Promise<void>((resolveListen) => listening.listen(port, "127.0.0.1", resolveListen));
		return { url: `http://127.0.0.1:${port}`, server: listening };
	}

	function migrateFrom(from: string, args: string[], env: Record<string, string>) {
		return run(
			"npm",
			[
				"run",
				"--silent",
				"migrate",
				"--",
				"--from",
				from,
				"--to",
				server.url,
				"--to-token",
				server.adminToken,
				...args,
			],
			{ cwd: ROOT, env, timeoutMs: 60_000 },
		);
	}

	it("retries a source that does not answer a bounded number of times, then reports it", async () => {
		let requests = 0;
		const slow = await source(() => {
			requests++; // and never answers
		});
		try {
			const started = Date.now();
			const result = await migrateFrom(slow.url, ["--package", "stalled"], {
				MIGRATE_RETRIES: "1",
				MIGRATE_TIMEOUT_SECONDS: "1",
			});
			expect(result.code).toBe(1);
			expect(result.output).toMatch(
				/failed stalled: the source's packument: no answer within 1 s \(after 2 attempts\)/,
			);
			expect(requests).toBe(2);
			expect(Date.now() - started).toBeLessThan(30_000);
		} finally {
			slow.server.closeAllConnections();
			slow.server.close();
		}
	});

	it("stops at once when this registry refuses the admin token", async () => {
		const valid = await source((_request, response) => {
			response.setHeader("content-type", "application/json");
			response.end(
				JSON.stringify({
					name: "fine",
					versions: { "1.0.0": { name: "fine", version: "1.0.0", dist: { shasum: "0".repeat(40) } } },
					time: { "1.0.0": "2021-01-01T00:00:00.000Z" },
				}),
			);
		});
		try {
			const result = await run(
				"npm",
				[
					"run",
					"--silent",
					"migrate",
					"--",
					"--from",
					valid.url,
					"--to",
					server.url,
					"--to-token",
					"not-a-token",
					"--package",
					"fine",
				],
				{ cwd: ROOT, timeoutMs: 60_000 },
			);
			expect(result.code).toBe(1);
			expect(result.output).toMatch(/this registry refused --to-token \(401/);
		} finally {
			valid.server.close();
		}
	});

	it("skips a package whose packument is malformed, and reports it", async () => {
		const malformed = await source((_request, response) => {
			response.setHeader("content-type", "application/json");
			response.end(JSON.stringify({ name: "shapeless", versions: "none" }));
		});
		try {
			const result = await migrateFrom(malformed.url, ["--package", "shapeless"], {});
			expect(result.code).toBe(1);
			expect(result.output).toMatch(/failed shapeless: the source's packument is malformed: package skipped/);
		} finally {
			malformed.server.close();
		}
	});
});

describe("npm run migrate from another instance of this registry (#18)", () => {
	let source: RegistryServer;

	beforeAll(async () => {
		source = await RegistryServer.start({ DEFAULT_ACCESS: "public" });
	});

	afterAll(async () => {
		await source?.stop();
	});

	it("keeps times, channels, publishers and each package's access, and signs with its own key", async () => {
		const token = await source.developerToken(["@inhouse"]);
		for (const version of ["1.0.0", "1.1.0"]) {
			const dir = npmProject(source, token, {
				"package.json": packageJson({ name: "@inhouse/lib", version, main: "index.js" }),
				"index.js": `module.exports = 'inhouse ${version}';\n`,
			});
			await ok("npm", ["publish", "--access", "restricted"], { cwd: dir });
		}
		const open = npmProject(source, token, {
			"package.json": packageJson({ name: "@inhouse/open", version: "1.0.0", main: "index.js" }),
			"index.js": "module.exports = 'open';\n",
		});
		await ok("npm", ["publish", "--access", "public"], { cwd: open });
		await source.admin("POST", "/packages/@inhouse/lib/channels/stable", { version: "1.0.0" });
		// A number removed at the source: its packument no longer names it, its admins still see it.
		const gone = npmProject(source, token, {
			"package.json": packageJson({ name: "@inhouse/lib", version: "0.9.0", main: "index.js" }),
			"index.js": "module.exports = 'gone';\n",
		});
		await ok("npm", ["publish", "--access", "restricted", "--tag", "old"], { cwd: gone });
		await source.admin("DELETE", "/packages/@inhouse/lib/versions/0.9.0?force=true");

		const result = await run(
			"npm",
			[
				"run",
				"--silent",
				"migrate",
				"--",
				"--from",
				source.url,
				"--from-token",
				source.adminToken,
				"--to",
				server.url,
				"--to-token",
				server.adminToken,
				"--scope",
				"@inhouse",
			],
			{ cwd: ROOT, timeoutMs: 120_000 },
		);
		expect(result.code, result.output).toBe(0);
		expect(result.output).toMatch(/copied 3, already present 0, failed 0/);

		const before = await readJson<Packument>(`${source.url}/@inhouse%2flib`, source.adminToken);
		const after = await fromRegistry("@inhouse/lib");
		expect(after["dist-tags"]).toEqual({ latest: "1.1.0", stable: "1.0.0" });
		expect(after.time).toMatchObject({
			"1.0.0": before.time["1.0.0"],
			"1.1.0": before.time["1.1.0"],
			created: before.time.created,
		});
		expect(after.maintainers).toEqual(before.maintainers);
		const versionOf = (doc: Packument) =>
			doc.versions["1.0.0"] as unknown as { _npmUser: unknown; dist: { integrity: string; signatures: unknown } };
		expect(versionOf(after)._npmUser).toEqual(versionOf(before)._npmUser);
		expect(versionOf(after).dist.integrity).toBe(versionOf(before).dist.integrity);
		// Each registry signs with its own key.
		expect(versionOf(after).dist.signatures).not.toEqual(versionOf(before).dist.signatures);
		// Each package keeps the access the source gives it (npm access get status), not DEFAULT_ACCESS.
		expect((await fetch(`${server.url}/@inhouse%2flib`)).status).toBe(404);
		expect((await fetch(`${server.url}/@inhouse%2fopen`)).status).toBe(200);
		// The number removed at the source stays taken here: npm never gives it to other bytes.
		const again = npmProject(server, await server.developerToken(["@inhouse"]), {
			"package.json": packageJson({ name: "@inhouse/lib", version: "0.9.0", main: "index.js" }),
			"index.js": "module.exports = 'other bytes';\n",
		});
		const reused = await run("npm", ["publish", "--tag", "old"], { cwd: again });
		expect(reused.code).not.toBe(0);
		expect(after.versions["0.9.0"]).toBeUndefined();
	});
});
