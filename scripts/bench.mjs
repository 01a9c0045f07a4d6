// `npm run bench`: how fast the registry serves installs, next to the floor of this machine.
//
// 1. Starts the registry as `npm start` serves it (Miniflare, no logging) on a fresh state dir.
// 2. Publishes BENCH_PACKAGES (default 200) generated packages with dependencies between them,
//    over the npm publish protocol, and times a cold `npm install` of an app that needs them all.
// 3. Loads the full packument, the abbreviated packument and a tarball with autocannon
//    (BENCH_CONNECTIONS, default 32, for BENCH_DURATION seconds, default 10) and reports req/s and
//    latency percentiles.
// 4. Does the same against `wrangler dev` on the same state, and against a trivial Node static
//    server holding the same bytes in memory: the floor for this machine.
//
// Figures go to stdout as a table and, with --json, as JSON.

import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import autocannon from "autocannon";
import { packTar } from "modern-tar";

const root = resolve(import.meta.dirname, "..");
const PACKAGES = Number(process.env.BENCH_PACKAGES ?? 200);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const ADMIN = `bench-admin-${randomBytes(8).toString("hex")}`;
const quietEnv = {
	...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
	PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}`,
	CLOUDFLARE_CF_FETCH_ENABLED: "false",
	WRANGLER_SEND_METRICS: "false",
};

const figures = {};
const state = mkdtempSync(join(tmpdir(), "registry-bench-state-"));

// ── servers ────────────────────────────────────────────────────────────────────────────────────

async function startServer(kind, port) {
	const args =
		kind === "npm start"
			? [join(root, "scripts", "start.mjs")]
			: [
					join(root, "node_modules", "wrangler", "bin", "wrangler.js"),
					"dev",
					"--ip",
					"127.0.0.1",
					"--port",
					String(port),
					"--persist-to",
					state,
					"--show-interactive-dev-session=false",
					"--var",
					`ADMIN_TOKEN:${ADMIN}`,
				];
	// npm start takes ADMIN_TOKEN from the environment when it is set, instead of .dev.vars.
	const env = { ...quietEnv, PORT: String(port), PERSIST_TO: state, ADMIN_TOKEN: ADMIN };
	const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
	let log = "";
	child.stdout.on("data", (c) => {
		log += c;
	});
	child.stderr.on("data", (c) => {
		log += c;
	});
	const url = `http://127.0.0.1:${port}`;
	for (let i = 0; i < 240; i++) {
		if (child.exitCode !== null) throw new Error(`${kind} exited:\n${log}`);
		try {
			if ((await fetch(`${url}/-/ping`)).ok) return { url, stop: () => stop(child) };
		} catch {}
		await new Promise((r) => setTimeout(r, 250));
	}
	throw new Error(`${kind} did not start:\n${log}`);
}

async function stop(child) {
	const exited = new Promise((r) => child.once("exit", r));
	process.kill(-child.pid, "SIGTERM");
	await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
	if (child.exitCode === null) process.kill(-child.pid, "SIGKILL");
}

function freePort() {
	return new Promise((r) => {
		const s = createServer().listen(0, "127.0.0.1", () => {
			const { port } = s.address();
			s.close(() => r(port));
		});
	});
}

// ── publishing ─────────────────────────────────────────────────────────────────────────────────

const name = (i) => `bench-pkg-${i}`;

/** Package i depends on up to three earlier packages, so installs resolve a real graph. */
function dependenciesOf(i) {
	const deps = {};
	for (const j of [i - 1, Math.floor(i / 2), Math.floor(i / 3)]) if (j >= 0 && j !== i) deps[name(j)] = "^1.0.0";
	return deps;
}

async function publishBody(i) {
	const manifest = {
		name: name(i),
		version: "1.0.0",
		description: `generated package ${i} for the benchmark`,
		main: "index.js",
		license: "MIT",
		dependencies: dependenciesOf(i),
	};
	const files = {
		"package.json": JSON.stringify(manifest, null, 2),
		"index.js": `module.exports = ${i};\n// ${"x".repeat(2000)}\n`,
		"README.md": `# ${name(i)}\n\n${"Lorem ipsum dolor sit amet. ".repeat(40)}\n`,
	};
	const tar = await packTar(
		Object.entries(files).map(([path, body]) => ({
			header: { name: `package/${path}`, size: Buffer.byteLength(body) },
			body,
		})),
	);
	const tgz = gzipSync(tar);
	const integrity = `sha512-${createHash("sha512").update(tgz).digest("base64")}`;
	const shasum = createHash("sha1").update(tgz).digest("hex");
	return {
		_id: name(i),
		name: name(i),
		"dist-tags": { latest: "1.0.0" },
		versions: { "1.0.0": { ...manifest, _id: `${name(i)}@1.0.0`, dist: { integrity, shasum } } },
		access: "public",
		_attachments: {
			[`${name(i)}-1.0.0.tgz`]: {
				content_type: "application/octet-stream",
				data: tgz.toString("base64"),
				length: tgz.length,
			},
		},
	};
}

async function publishAll(url) {
	const started = performance.now();
	for (let i = 0; i < PACKAGES; i += 8) {
		await Promise.all(
			Array.from({ length: Math.min(8, PACKAGES - i) }, async (_, k) => {
				const body = JSON.stringify(await publishBody(i + k));
				const put = await fetch(`${url}/${name(i + k)}`, {
					method: "PUT",
					headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
					body,
				});
				if (put.status !== 201) throw new Error(`publish ${name(i + k)}: ${put.status} ${await put.text()}`);
			}),
		);
	}
	return (performance.now() - started) / 1000;
}

function coldInstall(url) {
	const dir = mkdtempSync(join(tmpdir(), "registry-bench-app-"));
	const dependencies = Object.fromEntries(Array.from({ length: PACKAGES }, (_, i) => [name(i), "^1.0.0"]));
	writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bench-app", version: "1.0.0", dependencies }));
	writeFileSync(
		join(dir, ".npmrc"),
		`registry=${url}/\ncache=${join(dir, ".cache")}\naudit=false\nfund=false\nupdate-notifier=false\n`,
	);
	const started = performance.now();
	const result = spawnSync("npm", ["install", "--no-audit", "--no-fund"], {
		cwd: dir,
		env: { ...quietEnv, HOME: dir },
		encoding: "utf8",
	});
	if (result.status !== 0) throw new Error(`npm install failed:\n${result.stdout}${result.stderr}`);
	return (performance.now() - started) / 1000;
}

// ── load ───────────────────────────────────────────────────────────────────────────────────────

async function load(label, url, headers = {}) {
	const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION, headers });
	const ok = result["2xx"];
	if (result.non2xx > 0 || ok === 0) throw new Error(`${label}: ${result.non2xx} non-2xx responses`);
	return {
		rps: Math.round(result.requests.average),
		p50: result.latency.p50,
		p99: result.latency.p99,
		errors: result.errors + result.timeouts,
	};
}

const ABBREVIATED = { accept: "application/vnd.npm.install-v1+json" };
const target = name(Math.floor(PACKAGES / 2));

async function loadRegistry(label, url) {
	figures[label] = {
		"full packument": await load(`${label} full`, `${url}/${target}`),
		"abbreviated packument": await load(`${label} abbreviated`, `${url}/${target}`, ABBREVIATED),
		tarball: await load(`${label} tarball`, `${url}/${target}/-/${target}-1.0.0.tgz`),
	};
}

async function loadStatic(url) {
	const [full, abbreviated, tarball] = await Promise.all([
		fetch(`${url}/${target}`).then((r) => r.arrayBuffer()),
		fetch(`${url}/${target}`, { headers: ABBREVIATED }).then((r) => r.arrayBuffer()),
		fetch(`${url}/${target}/-/${target}-1.0.0.tgz`).then((r) => r.arrayBuffer()),
	]);
	const bodies = { "/full": full, "/abbreviated": abbreviated, "/tarball": tarball };
	const server = createServer((req, res) => {
		const body = bodies[req.url];
		res.writeHead(body ? 200 : 404, { "content-type": "application/octet-stream" });
		res.end(body ? Buffer.from(body) : undefined);
	});
	await new Promise((r) => server.listen(0, "127.0.0.1", r));
	const base = `http://127.0.0.1:${server.address().port}`;
	figures["static Node server (floor)"] = {
		"full packument": await load("static full", `${base}/full`),
		"abbreviated packument": await load("static abbreviated", `${base}/abbreviated`),
		tarball: await load("static tarball", `${base}/tarball`),
	};
	server.close();
}

// ── run ──────────────────────────────────────────────────────────────────────────────────────

const serving = await startServer("npm start", await freePort());
let publishSeconds;
let installSeconds;
try {
	publishSeconds = await publishAll(serving.url);
	installSeconds = coldInstall(serving.url);
	await loadRegistry("npm start (Miniflare)", serving.url);
	await loadStatic(serving.url);
} finally {
	await serving.stop();
}

const dev = await startServer("wrangler dev", await freePort());
try {
	await loadRegistry("wrangler dev", dev.url);
} finally {
	await dev.stop();
}

console.log(`\n${PACKAGES} packages published in ${publishSeconds.toFixed(1)} s over HTTP (8 at a time)`);
console.log(`cold npm install of an app that needs all ${PACKAGES}: ${installSeconds.toFixed(1)} s`);
console.log(`\nautocannon, ${CONNECTIONS} connections, ${DURATION} s each, GET of ${target}:`);
console.log(
	"server".padEnd(30),
	"endpoint".padEnd(24),
	"req/s".padStart(8),
	"p50 ms".padStart(8),
	"p99 ms".padStart(8),
);
for (const [server, rows] of Object.entries(figures)) {
	for (const [endpoint, f] of Object.entries(rows)) {
		console.log(
			server.padEnd(30),
			endpoint.padEnd(24),
			String(f.rps).padStart(8),
			String(f.p50).padStart(8),
			String(f.p99).padStart(8),
		);
	}
}
if (process.argv.includes("--json")) console.log(JSON.stringify({ publishSeconds, installSeconds, figures }, null, 2));
