// `npm run bench`: how fast the registry serves installs and searches, next to this machine's floor.
//
// 1. Starts the registry as `npm start` serves it (Miniflare, no request logging) on a fresh state.
// 2. Publishes BENCH_PACKAGES (default 200) generated packages with dependencies between them over
//    the npm publish protocol, and times a cold `npm install` of an app that needs them all.
// 3. Loads the hot reads (full and abbreviated packument, a tarball, a file under /files/, a
//    channel lookup, a search query) with autocannon (BENCH_CONNECTIONS, default 32, for
//    BENCH_DURATION seconds, default 10): req/s, latency, and package/index object calls per
//    1,000 reads (from /-/admin/metrics). The same bytes from a trivial Node server held in
//    memory are the floor for this machine. Then again with READ_CACHE_SECONDS=0.
//    The pages for people (the package page and the search page) are loaded the same way, in a
//    section of their own.
// 4. Publishes BENCH_SEARCH_PACKAGES (default 10000) more packages with generated descriptions,
//    waits until the search index holds them all, and loads /-/v1/search with a mix of queries.
// 5. Loads the tarball on two fresh starts, COUNT_DOWNLOADS=true and =false: what counting costs.
// 6. Loads the packuments and the tarball through `wrangler dev` on the same state.
// 7. Large publishes: one publish each of BENCH_LARGE_PUBLISH packages (MB, default
//    1,10,25,60,95) of incompressible bytes through `wrangler dev`, each on a fresh start after a
//    small warm-up publish: the time, and the peak growth of the resident memory of its workerd
//    processes, sampled during the publish. The local R2 simulator lives in workerd too, so next
//    to each figure is the R2 floor: a trivial Worker moving the same bytes through the simulator
//    (written, read back, written again), memory and time. Beside them, the figure the platform's
//    128 MB limit is about: the peak of the registry isolate's own memory (V8 heap in use plus
//    ArrayBuffer backing stores, which hold the bytes), sampled through wrangler dev's inspector.
//    BENCH_ONLY=large-publishes runs this section alone (BENCH_ONLY=reads the others).
// 7b. Parallel publishes (#22.4): BENCH_PARALLEL_PUBLISHES (default 6) publishes of
//    BENCH_PARALLEL_PUBLISH_MB (default 15) MB each at once through `wrangler dev`, after a warm-up:
//    how many were turned away (503) and asked again after Retry-After as npm does, the time until
//    all were stored, and the registry isolate's peak.
//    BENCH_ONLY=parallel-publishes runs this section alone.
// 8. Upstream: `npm install` of the app needing all BENCH_PACKAGES from the registry of step 2
//    directly (twice), then through a second registry (fresh state) that has it as its upstream:
//    cold (every packument and tarball fetched from upstream on the way), then warm (all cached),
//    twice. Each install starts from an empty npm cache (part of BENCH_ONLY=reads).
// 9. Migration (#18): BENCH_PACKAGES packages with BENCH_MIGRATE_VERSIONS versions in all (default
//    765) published into a local Verdaccio (no uplinks), then `npm run migrate -- --all` into a
//    fresh `npm start`: wall time and versions per second, and the time of a second run that finds
//    everything present. BENCH_ONLY=migrate runs this section alone.
// 10. Backup (#18; BENCH_ONLY=backup runs it alone): BENCH_PACKAGES packages of BENCH_BACKUP_VERSIONS
//    versions each (default 4) on a fresh `npm start`, exported with scripts/migrate-archive.mjs
//    into an archive, then restored into a second fresh instance with the same secrets: the time of
//    each, and versions per second. Then a registry holding one 60 MB package (wrangler dev):
//    the peak of the registry isolate (as for large publishes) and of the exporting command's
//    resident memory while the export streams it.
// 11. Publish cost (#25): one package taken to 5,010 versions with about 3 KB of fields each, on a
//     fresh `npm start`: the p50 of 20 publishes one at a time when the package holds
//     BENCH_PUBLISH_AT versions (default 50,1000,5000; the versions between are published 4 at a
//     time), the full packument's size and first read after, and the largest SQLite value in the
//     state directory once the server has stopped (read with node:sqlite).
//     BENCH_ONLY=publish-cost runs this section alone.
//
// 12. Metrics (#21): hot reads (the full packument and the tarball of one package) on fresh starts
//    of the same state with COLLECT_METRICS=true and =false, alternated BENCH_METRICS_ROUNDS times
//    (default 2; medians), and the calls the isolates made to the MetricsDO per 1,000 reads (its
//    `metrics.batches` counter after the last batch arrived). BENCH_ONLY=metrics runs this section
//    alone.
// 13. Hot path (#25; BENCH_ONLY=hot runs it alone): a fresh `npm start` without its per-IP rate
//    limits (NO_RATE_LIMITS=true: one load generator on one address would meet the anonymous one),
//    a public package with a channel and a restricted one. With a token, the hot abbreviated and
//    full packument, tarball and channel lookup, and without one the restricted package's packument
//    (a 404), each as a share of authenticated `/-/ping` (the Worker's floor for a token holder:
//    the token checked, no object asked; anonymous ping is measured the same way, so what the check
//    costs shows): BENCH_HOT_ROUNDS (default 15: on a shared machine one round's share moves ten
//    points or more either way, the table shows how far) rounds of BENCH_HOT_SECONDS (default 2) of
//    ping and the read (by turns, which goes first), the share being the median of the rounds'
//    ratios (a loaded machine moves both sides of a round alike) with its 95 % confidence interval
//    (order statistics: no assumption about how the rounds scatter), so a share a few points from a
//    target says whether the rounds could tell, with the package-object calls per 1,000 reads;
//    beside it, the CPU workerd spent per request on each side (from /proc), which the load
//    generator sharing the machine, and parsing every answer, does not move.
// 14. Proxy installs (#25; BENCH_ONLY=proxy runs it alone): scripts/bench-proxy.mjs.
// 15. Large upstream copies (#25; BENCH_ONLY=upstream-large runs it alone): a source registry
//    (`npm start`) holding a package whose full packument is about BENCH_LARGE_UPSTREAM_MB (default
//    6) MB, and this registry with it as UPSTREAM_URL. Once a first read has stored the copy,
//    BENCH_LARGE_UPSTREAM_READS (default 64) reads of it, 16 at a time: their time, and the growth
//    of workerd's resident memory over them (the copy is too large for the read tier to keep, so
//    every read asks the object).
//
// Figures go to stdout as a table, and as JSON with --json.

import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { constants, gzipSync } from "node:zlib";
import autocannon from "autocannon";
import { packTar } from "modern-tar";
import { printProxyBench, proxyBench } from "./bench-proxy.mjs";
import { newSecret } from "./dev-vars.mjs";
import { startVerdaccio } from "./local-verdaccio.mjs";

const root = resolve(import.meta.dirname, "..");
const PACKAGES = Number(process.env.BENCH_PACKAGES ?? 200);
const SEARCH_PACKAGES = Number(process.env.BENCH_SEARCH_PACKAGES ?? 10_000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const DURATION = Number(process.env.BENCH_DURATION ?? 10);
const LARGE_PUBLISH_MB = (process.env.BENCH_LARGE_PUBLISH ?? "1,10,25,60,95")
	.split(",")
	.filter((s) => s.trim() !== "")
	.map(Number);
const ONLY = process.env.BENCH_ONLY ?? "";
const HOT_ROUNDS = Number(process.env.BENCH_HOT_ROUNDS ?? 15);
const HOT_SECONDS = Number(process.env.BENCH_HOT_SECONDS ?? 2);
const MIGRATE_VERSIONS = Number(process.env.BENCH_MIGRATE_VERSIONS ?? 765);
const PARALLEL_PUBLISHES = Number(process.env.BENCH_PARALLEL_PUBLISHES ?? 6);
const PARALLEL_PUBLISH_MB = Number(process.env.BENCH_PARALLEL_PUBLISH_MB ?? 15);
const PUBLISH_AT = (process.env.BENCH_PUBLISH_AT ?? "50,1000,5000")
	.split(",")
	.filter((s) => s.trim() !== "")
	.map(Number);
const ADMIN = `bench-admin-${randomBytes(8).toString("hex")}`;
const SIGNING = randomBytes(16).toString("hex");
const ENCRYPTION = randomBytes(16).toString("hex");
const SIGNING_KEY = newSecret("REGISTRY_SIGNING_KEY");
const quietEnv = {
	...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))),
	PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}`,
	CLOUDFLARE_CF_FETCH_ENABLED: "false",
	WRANGLER_SEND_METRICS: "false",
};

const figures = {};
const notes = [];
// Every directory the bench makes (state, apps, npm caches) lives under one root, removed on exit.
const scratchRoot = mkdtempSync(join(tmpdir(), "registry-bench-"));
process.once("exit", () => rmSync(scratchRoot, { recursive: true, force: true }));
for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => process.exit(130));
const scratch = (label) => mkdtempSync(join(scratchRoot, `${label}-`));
const state = scratch("state");
// The bench's secrets, in a dev vars file of its own: the working tree's .dev.vars is neither read
// (its vars would change the figures) nor written.
const devVars = join(scratch("vars"), "dev.vars");
writeFileSync(
	devVars,
	`ADMIN_TOKEN=${ADMIN}\nURL_SIGNING_SECRET=${SIGNING}\nENCRYPTION_KEY=${ENCRYPTION}\nREGISTRY_SIGNING_KEY=${SIGNING_KEY}\n`,
	{
		mode: 0o600,
	},
);
const log = (line) => process.stderr.write(`${line}\n`);

// ── servers ────────────────────────────────────────────────────────────────────────────────────

/** `npm start` (Miniflare) or `wrangler dev`, on a free port, on the bench's state directory (or another). */
async function startServer(kind, vars = {}, persistTo = state, { inspectorPort = null } = {}) {
	const port = await freePort();
	const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
	const args =
		kind === "npm start"
			? [join(root, "scripts", "start.mjs")]
			: [wrangler, "dev", "--ip", "127.0.0.1", "--port", String(port), "--persist-to", persistTo];
	if (kind === "wrangler dev") {
		args.push("--env-file", devVars, "--show-interactive-dev-session=false", "--log-level", "warn");
		if (inspectorPort !== null) args.push("--inspector-port", String(inspectorPort));
	}
	for (const [k, v] of Object.entries({
		ADMIN_TOKEN: ADMIN,
		URL_SIGNING_SECRET: SIGNING,
		ENCRYPTION_KEY: ENCRYPTION,
		REGISTRY_SIGNING_KEY: SIGNING_KEY,
		...vars,
	})) {
		if (kind === "wrangler dev") args.push("--var", `${k}:${v}`);
	}
	// npm start takes secrets and vars from the environment when they are set there.
	const env = {
		...quietEnv,
		PORT: String(port),
		PERSIST_TO: persistTo,
		DEV_VARS: devVars,
		ADMIN_TOKEN: ADMIN,
		URL_SIGNING_SECRET: SIGNING,
		ENCRYPTION_KEY: ENCRYPTION,
		REGISTRY_SIGNING_KEY: SIGNING_KEY,
		...vars,
	};
	const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
	let output = "";
	child.stdout.on("data", (c) => {
		output += c;
	});
	child.stderr.on("data", (c) => {
		output += c;
	});
	const url = `http://127.0.0.1:${port}`;
	for (let i = 0; i < 240; i++) {
		if (child.exitCode !== null) throw new Error(`${kind} exited:\n${output}`);
		try {
			if ((await fetch(`${url}/-/ping`)).ok) return { url, pid: child.pid, stop: () => stop(child) };
		} catch {}
		await sleep(250);
	}
	throw new Error(`${kind} did not start:\n${output}`);
}

async function stop(child) {
	const exited = new Promise((r) => child.once("exit", r));
	process.kill(-child.pid, "SIGTERM");
	await Promise.race([exited, sleep(5000)]);
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

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ── publishing ─────────────────────────────────────────────────────────────────────────────────

const graphName = (i) => `bench-pkg-${i}`;

/** Package i depends on up to three earlier packages, so installs resolve a real graph. */
function dependenciesOf(i) {
	const deps = {};
	for (const j of [i - 1, Math.floor(i / 2), Math.floor(i / 3)]) {
		if (j >= 0 && j !== i) deps[graphName(j)] = "^1.0.0";
	}
	return deps;
}

const WORDS = (
	"async cache parser stream buffer router widget render table chart svg canvas color theme icon " +
	"button modal form input date time locale format number string array object schema valid json " +
	"yaml toml markdown html css layout grid flex animation motion gesture touch drag drop upload " +
	"image video audio codec crypto hash token auth session cookie storage queue worker thread pool " +
	"retry timeout signal event emitter logger metric trace debug test mock spec bench profile build " +
	"bundle minify compress archive tar zip path glob watch server client socket proxy http fetch"
).split(" ");

/** n words chosen by a small deterministic generator (32-bit integer arithmetic throughout). */
function pick(seed, n) {
	const out = [];
	let x = Math.imul(seed + 1, 2654435761) >>> 0;
	for (let k = 0; k < n; k++) {
		x = (Math.imul(x, 1103515245) + 12345) >>> 0;
		out.push(WORDS[(x >>> 16) % WORDS.length]);
	}
	return out;
}

async function publishBody(manifest, extraFiles = {}) {
	const files = {
		"package.json": JSON.stringify(manifest, null, 2),
		"index.js": `module.exports = ${JSON.stringify(manifest.name)};\n// ${"x".repeat(2000)}\n`,
		"README.md": `# ${manifest.name}\n\n${manifest.description}\n\n${"Lorem ipsum dolor sit amet. ".repeat(40)}\n`,
		...extraFiles,
	};
	const tar = await packTar(
		Object.entries(files).map(([path, body]) => ({
			header: { name: `package/${path}`, size: Buffer.byteLength(body) },
			body,
		})),
	);
	const tgz = gzipSync(tar);
	const { name, version } = manifest;
	return {
		_id: name,
		name,
		"dist-tags": { latest: version },
		versions: {
			[version]: {
				...manifest,
				_id: `${name}@${version}`,
				dist: {
					integrity: `sha512-${createHash("sha512").update(tgz).digest("base64")}`,
					shasum: createHash("sha1").update(tgz).digest("hex"),
				},
			},
		},
		access: "public",
		_attachments: {
			[`${name}-${version}.tgz`]: {
				content_type: "application/octet-stream",
				data: tgz.toString("base64"),
				length: tgz.length,
			},
		},
	};
}

/** Publishes manifests `count` at a time; returns seconds taken. */
async function publishMany(url, manifests, concurrency) {
	const started = performance.now();
	let next = 0;
	async function worker() {
		while (next < manifests.length) {
			const manifest = manifests[next++];
			const put = await fetch(`${url}/${manifest.name}`, {
				method: "PUT",
				headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
				body: JSON.stringify(await publishBody(manifest)),
			});
			if (put.status !== 201) throw new Error(`publish ${manifest.name}: ${put.status} ${await put.text()}`);
		}
	}
	await Promise.all(Array.from({ length: concurrency }, worker));
	return (performance.now() - started) / 1000;
}

/** `npm install` of an app needing every generated package, in a fresh directory with an empty npm cache. */
function coldInstall(url, token = null) {
	const dir = scratch("app");
	const dependencies = Object.fromEntries(Array.from({ length: PACKAGES }, (_, i) => [graphName(i), "^1.0.0"]));
	writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bench-app", version: "1.0.0", dependencies }));
	const auth = token ? `//${new URL(url).host}/:_authToken=${token}\n` : "";
	writeFileSync(
		join(dir, ".npmrc"),
		`registry=${url}/\n${auth}cache=${join(dir, ".cache")}\naudit=false\nfund=false\nupdate-notifier=false\n`,
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

/**
 * Loads a URL. Registry requests carry a developer token: anonymous requests are rate-limited per
 * client IP (6000 a minute), and on one machine every request comes from 127.0.0.1.
 */
async function load(label, url, options = {}) {
	const headers = { ...(reader ? { authorization: `Bearer ${reader}` } : {}), ...options.headers };
	const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION, ...options, headers });
	if (result.non2xx > 0 || result["2xx"] === 0) throw new Error(`${label}: ${result.non2xx} non-2xx responses`);
	return {
		rps: Math.round(result.requests.average),
		p50: result.latency.p50,
		p99: result.latency.p99,
		errors: result.errors + result.timeouts,
		total: result.requests.total,
	};
}

const ABBREVIATED = { accept: "application/vnd.npm.install-v1+json" };
const target = graphName(Math.floor(PACKAGES / 2));

/** The hot reads of the read tier, each with the package-object calls it cost per 1,000 reads. */
const READS = [
	["full packument", () => `/${target}`, {}],
	["abbreviated packument", () => `/${target}`, { headers: ABBREVIATED }],
	["tarball", () => `/${target}/-/${target}-1.0.0.tgz`, {}],
	["file under /files/", () => `/files/${target}@1.0.0/index.js`, {}],
	["channel lookup", () => `/packages/${target}/channels/stable`, {}],
	["search query", () => "/-/v1/search?text=generated%20benchmark&size=20", {}],
];

/** The pages for people, as a browser without grants asks for them (shared through the read tier). */
const PAGES = [
	["package page", () => `/package/${target}`, {}],
	["search page", () => "/search?q=generated%20benchmark", {}],
];

async function objectCalls(url) {
	const res = await fetch(`${url}/-/admin/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
	const { objectCalls: calls } = await res.json();
	return (calls.package ?? 0) + (calls.index ?? 0);
}

async function loadReads(label, url, reads = READS) {
	figures[label] = {};
	for (const [endpoint, path, options] of reads) {
		const before = await objectCalls(url);
		const result = await load(`${label} ${endpoint}`, `${url}${path()}`, options);
		const calls = (await objectCalls(url)) - before;
		figures[label][endpoint] = { ...result, perThousand: +((calls / result.total) * 1000).toFixed(2) };
	}
}

async function loadInstallPaths(label, url) {
	figures[label] = {
		"full packument": await load(`${label} full`, `${url}/${target}`),
		"abbreviated packument": await load(`${label} abbreviated`, `${url}/${target}`, { headers: ABBREVIATED }),
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
	const token = reader;
	reader = null; // the floor needs no token

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
	reader = token;
}

async function waitForIndex(url, expected) {
	const started = performance.now();
	for (;;) {
		const res = await fetch(`${url}/-/v1/search?text=searchbench&size=1`, {
			headers: { authorization: `Bearer ${ADMIN}` },
		});
		const { total } = await res.json();
		if (total >= expected) return (performance.now() - started) / 1000;
		await sleep(500);
	}
}

const SEARCHES = [
	"router",
	"widget chart",
	"json schema valid",
	"keywords:svg",
	"searchbench-4242",
	"stream buffer async",
];

// ── large publishes ────────────────────────────────────────────────────────────────────────────

/** The pids of a process's descendants (its process group's workers: workerd, esbuild, …). */
function descendants(pid) {
	const children = new Map();
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
			// The command may hold spaces and parentheses: the fields after it start at the last ')'.
			const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
			children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
		} catch {}
	}
	const out = [];
	const queue = [pid];
	while (queue.length > 0) {
		const next = children.get(queue.shift()) ?? [];
		out.push(...next);
		queue.push(...next);
	}
	return out;
}

/** The workerd processes under a server. */
function workerdPids(pid) {
	return descendants(pid).filter((child) => {
		try {
			return /^Name:\s+workerd$/m.test(readFileSync(`/proc/${child}/status`, "utf8"));
		} catch {
			return false;
		}
	});
}

/** Their CPU time so far (user and system), in clock ticks (1/100 s). */
function workerdTicks(pids) {
	let ticks = 0;
	for (const pid of pids) {
		try {
			const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
			const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
			ticks += Number(fields[11]) + Number(fields[12]);
		} catch {}
	}
	return ticks;
}

/** Their resident memory together, in bytes. */
function residentBytes(pids) {
	let total = 0;
	for (const pid of pids) {
		try {
			total += Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
		} catch {}
	}
	return total;
}

/** npm's publish body for a package holding `megabytes` of random (incompressible) bytes. */
async function largePublishBody(name, megabytes) {
	const packageJson = JSON.stringify({ name, version: "1.0.0", description: "large publish", main: "index.js" });
	const blob = randomBytes(Math.max(0, Math.round(megabytes * 1024 * 1024) - 4096));
	const tar = await packTar([
		{ header: { name: "package/package.json", size: Buffer.byteLength(packageJson) }, body: packageJson },
		{ header: { name: "package/blob.bin", size: blob.byteLength }, body: blob },
	]);
	const tgz = gzipSync(tar, { level: constants.Z_BEST_SPEED });
	return {
		bytes: tgz.byteLength,
		body: JSON.stringify({
			_id: name,
			name,
			"dist-tags": { latest: "1.0.0" },
			versions: {
				"1.0.0": {
					name,
					version: "1.0.0",
					dist: {
						integrity: `sha512-${createHash("sha512").update(tgz).digest("base64")}`,
						shasum: createHash("sha1").update(tgz).digest("hex"),
					},
				},
			},
			access: "public",
			_attachments: {
				[`${name}-1.0.0.tgz`]: {
					content_type: "application/octet-stream",
					data: tgz.toString("base64"),
					length: tgz.byteLength,
				},
			},
		}),
	};
}

/** How much the resident memory of the workerd processes under `pid` grows while `work` runs, in bytes. */
async function peakGrowth(pid, work) {
	const pids = workerdPids(pid);
	if (pids.length === 0) throw new Error("no workerd process found");
	const baseline = residentBytes(pids);
	let peak = baseline;
	let sampling = true;
	const sampler = (async () => {
		while (sampling) {
			peak = Math.max(peak, residentBytes(pids));
			await sleep(20);
		}
	})();
	try {
		const result = await work();
		sampling = false;
		await sampler;
		return { result, growth: Math.max(peak, residentBytes(pids)) - baseline };
	} finally {
		sampling = false;
	}
}

/**
 * The peak of the registry isolate's memory while `work` runs, through wrangler dev's inspector
 * (DevTools protocol): V8 heap in use plus ArrayBuffer backing stores (workerd's inspector does not
 * collect garbage on request: the baseline is what the warm-up left). Sampled every ~15 ms, so a
 * peak shorter than that can be missed.
 */
async function isolatePeak(inspectorPort, work) {
	const socket = new WebSocket(`ws://127.0.0.1:${inspectorPort}/ws`, { headers: { origin: "http://localhost" } });
	await new Promise((resolve, reject) => {
		socket.addEventListener("open", resolve, { once: true });
		socket.addEventListener("error", reject, { once: true });
	});
	const pending = new Map();
	let next = 0;
	socket.addEventListener("message", (event) => {
		const message = JSON.parse(event.data);
		pending.get(message.id)?.(message.result);
		pending.delete(message.id);
	});
	const send = (method) =>
		new Promise((resolve, reject) => {
			const id = ++next;
			const timer = setTimeout(() => reject(new Error(`the inspector did not answer ${method}`)), 10_000);
			pending.set(id, (result) => {
				clearTimeout(timer);
				resolve(result);
			});
			socket.send(JSON.stringify({ id, method }));
		});
	const usage = async () => {
		const { usedSize, backingStorageSize } = await send("Runtime.getHeapUsage");
		return usedSize + backingStorageSize;
	};
	try {
		const baseline = await usage();
		let peak = baseline;
		let sampling = true;
		const sampler = (async () => {
			while (sampling) {
				peak = Math.max(peak, await usage());
				await sleep(10);
			}
		})();
		try {
			return { result: await work(), baseline, peak };
		} finally {
			sampling = false;
			await sampler;
		}
	} finally {
		socket.close();
	}
}

// The local R2 simulator runs inside workerd too, so its own memory is part of every figure. The
// floor: a trivial Worker on the same Miniflare that writes the body to R2 in 5 MiB parts, reads
// it back and writes it again (a publish's R2 traffic: tarball, read back, bundle), nothing else.
const R2_FLOOR_WORKER = `
const PART = 5 * 1024 * 1024;
async function store(bucket, key, stream) {
	const upload = await bucket.createMultipartUpload(key);
	const parts = [];
	const part = new Uint8Array(PART);
	let filled = 0;
	for await (const chunk of stream) {
		for (let at = 0; at < chunk.byteLength; ) {
			const n = Math.min(chunk.byteLength - at, PART - filled);
			part.set(chunk.subarray(at, at + n), filled);
			filled += n;
			at += n;
			if (filled === PART) {
				parts.push(await upload.uploadPart(parts.length + 1, part));
				filled = 0;
			}
		}
	}
	if (filled > 0) parts.push(await upload.uploadPart(parts.length + 1, part.subarray(0, filled)));
	await upload.complete(parts);
}
export default {
	async fetch(request, env) {
		const key = crypto.randomUUID();
		await store(env.BLOBS, key, request.body);
		await store(env.BLOBS, key + ".again", (await env.BLOBS.get(key)).body);
		return new Response("stored");
	},
};`;

/** The R2 floor's growth for a body of `bytes`. */
async function r2Floor(bytes) {
	const wranglerRequire = createRequire(createRequire(import.meta.url).resolve("wrangler"));
	const { Miniflare, convertV4MiniflareOptions } = await import(
		pathToFileURL(wranglerRequire.resolve("miniflare")).href
	);
	const mf = new Miniflare(
		convertV4MiniflareOptions({
			host: "127.0.0.1",
			port: 0,
			resourcePersistencePath: scratch("r2"),
			workers: [
				{
					name: "r2-floor",
					modules: true,
					script: R2_FLOOR_WORKER,
					compatibilityDate: "2026-11-01",
					r2Buckets: ["BLOBS"],
				},
			],
		}),
	);
	try {
		const url = await mf.ready;
		await (await fetch(url, { method: "PUT", body: randomBytes(64 * 1024) })).text();
		await sleep(1_000);
		const body = randomBytes(bytes);
		const t0 = performance.now();
		const { growth } = await peakGrowth(process.pid, async () => {
			const res = await fetch(url, { method: "PUT", body });
			if ((await res.text()) !== "stored") throw new Error("the R2 floor Worker failed");
		});
		return { growth, seconds: (performance.now() - t0) / 1000 };
	} finally {
		await mf.dispose();
	}
}

async function largePublishes() {
	const rows = [];
	for (const megabytes of LARGE_PUBLISH_MB) {
		log(`large publish of ${megabytes} MB…`);
		const name = `bench-large-${megabytes}mb`;
		const { body, bytes } = await largePublishBody(name, megabytes);
		// Limits raised far enough for the largest body; the platform's own limit is not the point here.
		const inspectorPort = await freePort();
		const started = await startServer(
			"wrangler dev",
			{ MAX_BODY_SIZE: String(512 * 1024 * 1024), MAX_UNPACKED_SIZE: String(1024 * 1024 * 1024) },
			state,
			{ inspectorPort },
		);
		let row;
		try {
			// A small publish first, so the figure is the large one's and not the isolate's warm-up
			// (compiling the Worker, the first objects and their SQLite).
			const warmUp = await largePublishBody(`${name}-warm-up`, 0.05);
			const warm = await fetch(`${started.url}/${name}-warm-up`, {
				method: "PUT",
				headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
				body: warmUp.body,
			});
			if (warm.status !== 201) throw new Error(`warm-up publish: ${warm.status} ${await warm.text()}`);
			await sleep(2_000);
			const t0 = performance.now();
			const isolate = await isolatePeak(inspectorPort, () =>
				peakGrowth(started.pid, async () => {
					const put = await fetch(`${started.url}/${name}`, {
						method: "PUT",
						headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
						body,
					});
					return { status: put.status, answer: await put.text(), seconds: (performance.now() - t0) / 1000 };
				}),
			);
			const { result, growth } = isolate.result;
			if (result.status !== 201) throw new Error(`large publish ${megabytes} MB: ${result.status} ${result.answer}`);
			row = {
				package: `${megabytes} MB`,
				tarballBytes: bytes,
				bodyBytes: Buffer.byteLength(body),
				seconds: +result.seconds.toFixed(2),
				memoryGrowthMB: +(growth / 1024 / 1024).toFixed(0),
				isolatePeakMB: +(isolate.peak / 1024 / 1024).toFixed(0),
				isolateGrowthMB: +((isolate.peak - isolate.baseline) / 1024 / 1024).toFixed(0),
			};
		} finally {
			await started.stop();
		}
		log(`R2 floor for ${megabytes} MB…`);
		const floor = await r2Floor(bytes);
		row.r2FloorMB = +(floor.growth / 1024 / 1024).toFixed(0);
		row.r2FloorSeconds = +floor.seconds.toFixed(2);
		rows.push(row);
	}
	figures["large publishes (wrangler dev)"] = rows;
}

// ── migration ──────────────────────────────────────────────────────────────────────────────────

/**
 * Section 9: the bench's packages, with MIGRATE_VERSIONS versions spread over them (the first
 * ones get one more), published into a local Verdaccio over npm's publish protocol, then migrated
 * with `npm run migrate` into a fresh registry, twice.
 */
async function migration() {
	const verdaccio = await startVerdaccio({ dir: scratch("verdaccio"), port: await freePort(), env: quietEnv });
	let server = null;
	try {
		const perPackage = Math.floor(MIGRATE_VERSIONS / PACKAGES);
		const extra = MIGRATE_VERSIONS - perPackage * PACKAGES;
		const packages = Array.from({ length: PACKAGES }, (_, i) =>
			Array.from({ length: perPackage + (i < extra ? 1 : 0) }, (_, v) => ({
				name: graphName(i),
				version: `1.${v}.0`,
				description: `generated package ${i} for the benchmark`,
				main: "index.js",
				license: "MIT",
				dependencies: dependenciesOf(i),
			})),
		);
		log(`publishing ${MIGRATE_VERSIONS} versions of ${PACKAGES} packages into Verdaccio…`);
		const publishStarted = performance.now();
		let next = 0;
		await Promise.all(
			Array.from({ length: 8 }, async () => {
				while (next < packages.length) {
					for (const manifest of packages[next++]) {
						const put = await fetch(`${verdaccio.url}/${manifest.name}`, {
							method: "PUT",
							headers: { authorization: `Bearer ${verdaccio.token}`, "content-type": "application/json" },
							body: JSON.stringify(asNpmSendsIt(await publishBody(manifest), verdaccio.url)),
						});
						if (!put.ok) throw new Error(`verdaccio publish ${manifest.name}: ${put.status} ${await put.text()}`);
					}
				}
			}),
		);
		notes.push(
			`${MIGRATE_VERSIONS} versions published into Verdaccio in ${((performance.now() - publishStarted) / 1000).toFixed(1)} s`,
		);
		server = await startServer("npm start", {}, scratch("migrate-state"));
		const runMigrate = () => {
			const started = performance.now();
			const args = [join(root, "scripts", "migrate.mjs"), "--from", verdaccio.url, "--to", server.url];
			args.push("--to-token", ADMIN, "--all", "--concurrency", "8");
			const result = spawnSync(process.execPath, args, { cwd: root, env: quietEnv, encoding: "utf8" });
			if (result.status !== 0)
				throw new Error(`npm run migrate exited ${result.status}\n${result.stdout}\n${result.stderr}`);
			return { seconds: (performance.now() - started) / 1000, summary: result.stdout.trim().split("\n")[0] };
		};
		log("npm run migrate…");
		const first = runMigrate();
		log("npm run migrate again (everything present)…");
		const second = runMigrate();
		figures.migration = {
			"packages / versions": `${PACKAGES} / ${MIGRATE_VERSIONS}`,
			"first run: wall time (s)": +first.seconds.toFixed(1),
			"first run: versions per second": +(MIGRATE_VERSIONS / first.seconds).toFixed(1),
			"first run: summary": first.summary,
			"second run, nothing to copy: wall time (s)": +second.seconds.toFixed(1),
			"second run: summary": second.summary,
		};
	} finally {
		await server?.stop();
		await verdaccio.stop();
	}
}

/** The fields npm adds to a publish (Verdaccio records a version's time only with them). */
function asNpmSendsIt(body, url) {
	const [version, manifest] = Object.entries(body.versions)[0];
	const user = { name: "migrator", email: "migrator@example.com" };
	return {
		...body,
		readme: `# ${body.name}`,
		maintainers: [user],
		versions: {
			[version]: {
				...manifest,
				_npmUser: user,
				maintainers: [user],
				dist: { ...manifest.dist, tarball: `${url}/${body.name}/-/${body.name}-${version}.tgz` },
			},
		},
	};
}

/**
 * #22.4: PARALLEL_PUBLISHES publishes of PARALLEL_PUBLISH_MB each, all at once, into one isolate:
 * the isolate's peak (the platform's limit is 128 MB), and what became of each (201, or 503 with
 * Retry-After when the isolate's part budget was taken).
 */
async function parallelPublishes() {
	log(`${PARALLEL_PUBLISHES} parallel publishes of ${PARALLEL_PUBLISH_MB} MB…`);
	const bodies = [];
	for (let i = 0; i < PARALLEL_PUBLISHES; i++) {
		bodies.push(await largePublishBody(`bench-parallel-${i}`, PARALLEL_PUBLISH_MB));
	}
	const inspectorPort = await freePort();
	const started = await startServer("wrangler dev", { MAX_BODY_SIZE: String(512 * 1024 * 1024) }, scratch("parallel"), {
		inspectorPort,
	});
	try {
		const warmUp = await largePublishBody("bench-parallel-warm-up", 0.05);
		const put = (name, body) =>
			fetch(`${started.url}/${name}`, {
				method: "PUT",
				headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
				body,
			});
		const warm = await put("bench-parallel-warm-up", warmUp.body);
		if (warm.status !== 201) throw new Error(`warm-up publish: ${warm.status} ${await warm.text()}`);
		await sleep(2_000);
		const t0 = performance.now();
		let turnedAway = 0;
		// As npm does: a 503 is asked again after its Retry-After.
		const publish = async (name, body) => {
			for (;;) {
				const res = await put(name, body);
				await res.text();
				if (res.status !== 503) return res.status;
				turnedAway += 1;
				await sleep(Number(res.headers.get("retry-after") ?? 5) * 1000);
			}
		};
		const isolate = await isolatePeak(inspectorPort, () =>
			Promise.all(bodies.map(({ body }, i) => publish(`bench-parallel-${i}`, body))),
		);
		const statuses = isolate.result;
		const unexpected = statuses.filter((s) => s !== 201);
		if (unexpected.length > 0) throw new Error(`parallel publishes answered ${unexpected.join(", ")}`);
		figures["parallel publishes (wrangler dev)"] = {
			publishes: PARALLEL_PUBLISHES,
			megabytesEach: PARALLEL_PUBLISH_MB,
			stored: statuses.length,
			turnedAway503ThenRetried: turnedAway,
			seconds: +((performance.now() - t0) / 1000).toFixed(2),
			isolatePeakMB: +(isolate.peak / 1024 / 1024).toFixed(0),
			isolateGrowthMB: +((isolate.peak - isolate.baseline) / 1024 / 1024).toFixed(0),
		};
	} finally {
		await started.stop();
	}
}

/**
 * What the registry-wide figures cost a hot read: COLLECT_METRICS on and off, alternated on fresh
 * starts of one state, and the MetricsDO calls per 1,000 reads with them on.
 */
async function metricsCost() {
	const rounds = Number(process.env.BENCH_METRICS_ROUNDS ?? 2);
	const metricsState = scratch("metrics-state");
	const name = "bench-metrics-pkg";
	let server = await startServer("npm start", {}, metricsState);
	try {
		await publishMany(server.url, [{ name, version: "1.0.0", main: "index.js", license: "MIT" }], 1);
		reader = await readerToken(server.url);
	} finally {
		await server.stop();
	}
	const paths = { "full packument": `/${name}`, tarball: `/${name}/-/${name}-1.0.0.tgz` };
	const runs = { true: { "full packument": [], tarball: [] }, false: { "full packument": [], tarball: [] } };
	let perThousand = null;
	for (let round = 0; round < rounds; round++) {
		// Each round in the other order: whatever warms up or slows down over a run falls on both.
		for (const collect of round % 2 === 0 ? ["true", "false"] : ["false", "true"]) {
			log(`hot reads with COLLECT_METRICS=${collect} (round ${round + 1} of ${rounds})…`);
			server = await startServer("npm start", { COLLECT_METRICS: collect }, metricsState);
			try {
				const batchesBefore = collect === "true" ? await metricsBatches(server.url) : 0;
				let reads = 0;
				for (const [endpoint, path] of Object.entries(paths)) {
					const result = await load(`metrics ${collect} ${endpoint}`, `${server.url}${path}`);
					runs[collect][endpoint].push(result.rps);
					reads += result.total;
				}
				if (collect === "true" && perThousand === null) {
					// The last batch leaves METRICS_FLUSH_SECONDS (10) after the first read it holds.
					await sleep(12_000);
					perThousand = +((((await metricsBatches(server.url)) - batchesBefore) / reads) * 1000).toFixed(3);
				}
			} finally {
				await server.stop();
			}
		}
	}
	const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
	figures.metrics = {};
	for (const endpoint of Object.keys(paths)) {
		const on = median(runs.true[endpoint]);
		const off = median(runs.false[endpoint]);
		figures.metrics[`${endpoint}: req/s with metrics on`] = on;
		figures.metrics[`${endpoint}: req/s with metrics off`] = off;
		figures.metrics[`${endpoint}: on / off`] = +(on / off).toFixed(3);
		figures.metrics[`${endpoint}: every run, on | off`] =
			`${runs.true[endpoint].join(" ")} | ${runs.false[endpoint].join(" ")}`;
	}
	figures.metrics["calls to the MetricsDO per 1,000 reads"] = perThousand;
}

/** Batches the MetricsDO has taken in over the last day (its own counter). */
async function metricsBatches(url) {
	const res = await fetch(`${url}/-/admin/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } });
	const { registry } = await res.json();
	return registry.windows["1d"].counters["metrics.batches"] ?? 0;
}

/** A developer token with no grants: it reads public packages without the anonymous rate limit. */
async function readerToken(url) {
	const created = await fetch(`${url}/-/admin/tokens`, {
		method: "POST",
		headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
		body: JSON.stringify({ kind: "developer", name: "bench-reader", grants: [] }),
	});
	return (await created.json()).token;
}

// ── backup ─────────────────────────────────────────────────────────────────────────────────────

const BACKUP_VERSIONS = Number(process.env.BENCH_BACKUP_VERSIONS ?? 4);
const archiveTool = join(root, "scripts", "migrate-archive.mjs");

/** Runs migrate-archive.mjs as its own process: its time, and the peak of its resident memory. */
async function archiveCommand(args) {
	const t0 = performance.now();
	const child = spawn(process.execPath, [archiveTool, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
	let output = "";
	child.stdout.on("data", (c) => {
		output += c;
	});
	child.stderr.on("data", (c) => {
		output += c;
	});
	let peak = 0;
	const exited = new Promise((r) => child.once("exit", r));
	let running = true;
	void exited.then(() => {
		running = false;
	});
	while (running) {
		peak = Math.max(peak, residentBytes([child.pid]));
		await sleep(20);
	}
	if (child.exitCode !== 0) throw new Error(`migrate-archive ${args.join(" ")} exited ${child.exitCode}:\n${output}`);
	return { seconds: (performance.now() - t0) / 1000, peakRss: peak, output: output.trim() };
}

/** Waits until the export names `expected` packages (the search index hears of publishes after they commit). */
async function waitForExport(url, expected) {
	for (;;) {
		let count = 0;
		let cursor = null;
		do {
			const query = cursor === null ? "" : `?cursor=${cursor}`;
			const page = await (
				await fetch(`${url}/-/admin/export${query}`, { headers: { authorization: `Bearer ${ADMIN}` } })
			).json();
			count += page.items.filter((i) => i.kind === "package").length;
			cursor = page.next;
		} while (cursor !== null);
		if (count >= expected) return;
		await sleep(500);
	}
}

async function backupBench() {
	const rows = {};
	const archive = join(scratch("archive"), "registry.tar");
	let source = await startServer("npm start", {}, scratch("backup-source"));
	let versions = 0;
	try {
		log(`publishing ${PACKAGES} packages × ${BACKUP_VERSIONS} versions for the backup…`);
		for (let v = 0; v < BACKUP_VERSIONS; v += 1) {
			const graph = Array.from({ length: PACKAGES }, (_, i) => ({
				name: graphName(i),
				version: `1.0.${v}`,
				description: `generated package ${i} for the benchmark`,
				main: "index.js",
				license: "MIT",
				dependencies: dependenciesOf(i),
			}));
			await publishMany(source.url, graph, 8);
			versions += graph.length;
		}
		await waitForExport(source.url, PACKAGES);
		log("export…");
		const exported = await archiveCommand(["--from", source.url, "--from-token", ADMIN, "--to-archive", archive]);
		rows[`export of ${PACKAGES} packages, ${versions} versions (s)`] = +exported.seconds.toFixed(1);
		rows["export: versions per second"] = Math.round(versions / exported.seconds);
		rows["export: archive (MB)"] = +(statSync(archive).size / 1e6).toFixed(1);
		rows["export: the command's peak resident memory (MB)"] = Math.round(exported.peakRss / 1024 / 1024);
	} finally {
		await source.stop();
	}
	const target = await startServer("npm start", {}, scratch("backup-target"));
	try {
		log("restore…");
		const restored = await archiveCommand(["--from-archive", archive, "--to", target.url, "--to-token", ADMIN]);
		rows["restore into a fresh instance (s)"] = +restored.seconds.toFixed(1);
		rows["restore: versions per second"] = Math.round(versions / restored.seconds);
		rows["restore: the command's peak resident memory (MB)"] = Math.round(restored.peakRss / 1024 / 1024);
		notes.push(`restore: ${restored.output.split("\n")[0]}`);
	} finally {
		await target.stop();
	}

	log("export of a registry holding a 60 MB package…");
	const inspectorPort = await freePort();
	source = await startServer(
		"wrangler dev",
		{ MAX_BODY_SIZE: String(512 * 1024 * 1024), MAX_UNPACKED_SIZE: String(1024 * 1024 * 1024) },
		scratch("backup-large"),
		{ inspectorPort },
	);
	try {
		for (const [name, megabytes] of [
			["bench-backup-warm-up", 0.05],
			["bench-backup-60mb", 60],
		]) {
			const { body } = await largePublishBody(name, megabytes);
			const put = await fetch(`${source.url}/${name}`, {
				method: "PUT",
				headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
				body,
			});
			if (put.status !== 201) throw new Error(`publish ${name}: ${put.status} ${await put.text()}`);
		}
		await waitForExport(source.url, 2);
		const large = join(scratch("archive-large"), "large.tar");
		const isolate = await isolatePeak(inspectorPort, () =>
			archiveCommand(["--from", source.url, "--from-token", ADMIN, "--to-archive", large]),
		);
		rows["export of a registry holding a 60 MB package (s)"] = +isolate.result.seconds.toFixed(1);
		rows["60 MB export: registry isolate peak (MB)"] = Math.round(isolate.peak / 1024 / 1024);
		rows["60 MB export: registry isolate growth (MB)"] = Math.round((isolate.peak - isolate.baseline) / 1024 / 1024);
		rows["60 MB export: the command's peak resident memory (MB)"] = Math.round(isolate.result.peakRss / 1024 / 1024);
		rows["60 MB export: archive (MB)"] = +(statSync(large).size / 1e6).toFixed(1);
	} finally {
		await source.stop();
	}
	figures.backup = rows;
}

// ── publish cost ───────────────────────────────────────────────────────────────────────────────

/** Version i of the publish-cost package: about 3 KB of fields, as a package that publishes per commit. */
function costManifest(i) {
	return {
		name: "bench-many-versions",
		version: `1.0.${i}`,
		description: pick(i, 150).join(" "),
		keywords: pick(i + 7, 12),
		main: "index.js",
		license: "MIT",
		scripts: { build: "tsc -p .", test: "vitest run", lint: "biome check .", prepublishOnly: "npm run build" },
		dependencies: Object.fromEntries(pick(i + 3, 40).map((w, k) => [`${w}-${k}-helper`, `^${k}.0.0`])),
		repository: { type: "git", url: "git+https://example.test/bench/many-versions.git" },
	};
}

/** The largest value in any table of the SQLite files under a directory (the objects' storage). */
async function largestSqliteValue(dir) {
	const { DatabaseSync } = await import("node:sqlite");
	const files = readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith(".sqlite"));
	let largest = { bytes: 0, where: "" };
	for (const file of files) {
		const db = new DatabaseSync(join(dir, String(file)), { readOnly: true });
		try {
			const tables = db
				.prepare(
					`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'
					 AND sql NOT LIKE 'CREATE VIRTUAL%'`,
				)
				.all();
			for (const { name } of tables) {
				for (const { name: column } of db.prepare(`SELECT name FROM pragma_table_info(?)`).all(name)) {
					const { bytes } = db.prepare(`SELECT max(length(CAST("${column}" AS BLOB))) AS bytes FROM "${name}"`).get();
					if ((bytes ?? 0) > largest.bytes) largest = { bytes, where: `${name}.${column}` };
				}
			}
		} finally {
			db.close();
		}
	}
	return largest;
}

async function publishCost() {
	const costState = scratch("publish-cost-state");
	const server = await startServer("npm start", {}, costState);
	const rows = [];
	let packumentBytes = 0;
	let firstReadMs = 0;
	try {
		let published = 0;
		for (const at of PUBLISH_AT) {
			const fill = Array.from({ length: Math.max(0, at - 10 - published) }, (_, k) => costManifest(published + k));
			if (fill.length > 0) {
				log(`publish cost: publishing versions ${published + 1}-${published + fill.length}…`);
				await publishMany(server.url, fill, 4);
				published += fill.length;
			}
			const times = [];
			for (let k = 0; k < 20; k++) {
				const body = JSON.stringify(await publishBody(costManifest(published)));
				const started = performance.now();
				const put = await fetch(`${server.url}/bench-many-versions`, {
					method: "PUT",
					headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
					body,
				});
				times.push(performance.now() - started);
				if (put.status !== 201) throw new Error(`publish cost: ${put.status} ${await put.text()}`);
				await put.arrayBuffer();
				published++;
			}
			times.sort((a, b) => a - b);
			rows.push({ versions: at, p50: +times[10].toFixed(1), p90: +times[18].toFixed(1) });
			log(`publish cost: p50 ${times[10].toFixed(1)} ms around ${at} versions`);
		}
		const started = performance.now();
		const full = await fetch(`${server.url}/bench-many-versions`, { headers: { authorization: `Bearer ${ADMIN}` } });
		packumentBytes = (await full.arrayBuffer()).byteLength;
		firstReadMs = +(performance.now() - started).toFixed(1);
	} finally {
		await server.stop();
	}
	const largest = await largestSqliteValue(costState);
	figures["publish cost"] = {
		rows,
		fullPackumentBytes: packumentBytes,
		firstFullReadMs: firstReadMs,
		largestSqliteValue: largest,
	};
}

// ── hot path ───────────────────────────────────────────────────────────────────────────────────

/** Loads a URL with exactly these headers, expecting `status` (answers of another are noted). */
async function loadExpecting(label, url, headers, status, duration = DURATION) {
	const result = await autocannon({ url, connections: CONNECTIONS, duration, headers });
	const answered = result.statusCodeStats?.[status]?.count ?? 0;
	if (answered === 0) throw new Error(`${label}: expected ${status}, got ${JSON.stringify(result.statusCodeStats)}`);
	// Said, not thrown: a build that fails under load (the object overloaded, say) is a figure too.
	const others = result.requests.total - result.errors - result.timeouts - answered;
	if (others > 0)
		notes.push(`${label}: ${others} answers were not ${status}: ${JSON.stringify(result.statusCodeStats)}`);
	return {
		rps: Math.round(result.requests.average),
		p50: result.latency.p50,
		p99: result.latency.p99,
		errors: result.errors + result.timeouts,
		total: result.requests.total,
	};
}

async function hotPath() {
	const server = await startServer("npm start", { NO_RATE_LIMITS: "true" }, scratch("hot"));
	try {
		const url = server.url;
		const token = await readerToken(url);
		const name = "bench-hot";
		const hidden = "bench-hot-restricted";
		const manifest = (n) => ({ name: n, version: "1.0.0", description: "hot path", main: "index.js", license: "MIT" });
		await publishMany(url, [manifest(name)], 1);
		const put = await fetch(`${url}/${hidden}`, {
			method: "PUT",
			headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
			body: JSON.stringify({ ...(await publishBody(manifest(hidden))), access: "restricted" }),
		});
		if (put.status !== 201) throw new Error(`publish ${hidden}: ${put.status} ${await put.text()}`);
		const channel = await fetch(`${url}/packages/${name}/channels/stable`, {
			method: "POST",
			headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
			body: JSON.stringify({ version: "1.0.0" }),
		});
		if (channel.status !== 201) throw new Error(`channel: ${channel.status} ${await channel.text()}`);
		await sleep(3_000); // the package objects' alarms (search index deliveries) settle first

		const authed = { authorization: `Bearer ${token}` };
		const reads = [
			["abbreviated packument", `/${name}`, { ...authed, ...ABBREVIATED }, 200],
			["full packument", `/${name}`, authed, 200],
			["tarball", `/${name}/-/${name}-1.0.0.tgz`, authed, 200],
			["channel lookup", `/packages/${name}/channels/stable`, authed, 200],
			["anonymous 404 (restricted)", `/${hidden}`, {}, 404],
			["anonymous ping (no token)", "/-/ping", {}, 200],
		];
		// The machine is shared and loaded: each read alternates with ping in short rounds, and its
		// share is the median of the rounds' ratios, so a burst of other load moves both sides.
		const rows = {};
		// Beside req/s, the CPU workerd spent per request: what the load generator, which shares the
		// machine and parses every answer, costs is not in it, nor time the machine gave others.
		const pids = workerdPids(server.pid);
		const measured = async (label, path, headers, status) => {
			const before = workerdTicks(pids);
			const result = await loadExpecting(label, `${url}${path}`, headers, status, HOT_SECONDS);
			return { ...result, cpuMicros: ((workerdTicks(pids) - before) * 10_000) / result.total };
		};
		const ping = () => measured("ping", "/-/ping", authed, 200);
		for (const [label, path, headers, status] of reads) {
			await fetch(`${url}${path}`, { headers }).then((r) => r.arrayBuffer());
			const before = await objectCalls(url);
			const rounds = [];
			for (let round = 0; round < HOT_ROUNDS; round++) {
				// Ping first, then the read first, by turns: a machine getting faster or slower over a
				// round favours neither side.
				const read = () => measured(label, path, headers, status);
				const [reference, result] =
					round % 2 === 0 ? [await ping(), await read()] : await read().then(async (r) => [await ping(), r]);
				rounds.push({ reference, result });
			}
			const calls = (await objectCalls(url)) - before;
			const total = rounds.reduce((sum, r) => sum + r.result.total, 0);
			const shares = rounds.map((r) => r.result.rps / r.reference.rps).sort((a, b) => a - b);
			const median = (values) => values[Math.floor(values.length / 2)];
			rows[label] = {
				rps: median(rounds.map((r) => r.result.rps).sort((a, b) => a - b)),
				ping: median(rounds.map((r) => r.reference.rps).sort((a, b) => a - b)),
				p50: median(rounds.map((r) => r.result.p50).sort((a, b) => a - b)),
				p99: median(rounds.map((r) => r.result.p99).sort((a, b) => a - b)),
				share: Math.round(median(shares) * 100),
				// What one round's share ranged over: how far a single short measurement could be trusted.
				spread: `${Math.round((shares[0] ?? 0) * 100)}-${Math.round((shares.at(-1) ?? 0) * 100)}`,
				interval: medianInterval(shares)
					.map((share) => Math.round(share * 100))
					.join("-"),
				cpuMicros: Math.round(median(rounds.map((r) => r.result.cpuMicros).sort((a, b) => a - b))),
				pingCpuMicros: Math.round(median(rounds.map((r) => r.reference.cpuMicros).sort((a, b) => a - b))),
				cpuShare: Math.round(
					median(rounds.map((r) => r.reference.cpuMicros / r.result.cpuMicros).sort((a, b) => a - b)) * 100,
				),
				perThousand: +((calls / total) * 1000).toFixed(2),
			};
		}
		figures.hot = rows;
	} finally {
		await server.stop();
	}
}

/**
 * A distribution-free 95 % confidence interval of the median of `sorted` (ascending): the order
 * statistics k and n-k+1, k the largest count such that fewer than k of the n rounds fall below the
 * true median with a chance of at most 2.5 % (binomial, p = 1/2). Fewer than six rounds allow no
 * such k: their least and greatest are given instead.
 */
function medianInterval(sorted) {
	const n = sorted.length;
	let k = 0;
	let below = 0;
	let ways = 1; // n choose j
	for (let j = 0; j < n; j++) {
		below += ways / 2 ** n;
		if (below > 0.025) break;
		k = j + 1;
		ways = (ways * (n - j)) / (j + 1);
	}
	return k === 0 ? [sorted[0] ?? 0, sorted.at(-1) ?? 0] : [sorted[k - 1], sorted[n - k]];
}

// ── large upstream copies ──────────────────────────────────────────────────────────────────────

const LARGE_UPSTREAM_MB = Number(process.env.BENCH_LARGE_UPSTREAM_MB ?? 6);
const LARGE_UPSTREAM_READS = Number(process.env.BENCH_LARGE_UPSTREAM_READS ?? 64);

async function largeUpstreamReads() {
	const source = await startServer("npm start", { NO_RATE_LIMITS: "true" }, scratch("upstream-source"));
	let proxy = null;
	try {
		const name = "bench-large-upstream";
		const versions = Math.ceil(LARGE_UPSTREAM_MB / 0.75);
		const manifests = Array.from({ length: versions }, (_, i) => ({
			name,
			version: `1.0.${i}`,
			description: `${i} ${"d".repeat(750_000)}`,
			license: "MIT",
		}));
		await publishMany(source.url, manifests, 1);
		proxy = await startServer("npm start", { NO_RATE_LIMITS: "true", UPSTREAM_URL: source.url }, scratch("upstream"));
		const bytes = (await (await fetch(`${proxy.url}/${name}`)).arrayBuffer()).byteLength;
		await fetch(`${proxy.url}/${name}`).then((r) => r.arrayBuffer());
		const pids = workerdPids(proxy.pid);
		const baseline = residentBytes(pids);
		let peak = baseline;
		const sampler = setInterval(() => {
			peak = Math.max(peak, residentBytes(pids));
		}, 20);
		const started = performance.now();
		let next = 0;
		const reader = async () => {
			while (next++ < LARGE_UPSTREAM_READS) {
				const res = await fetch(`${proxy.url}/${name}`);
				const length = (await res.arrayBuffer()).byteLength;
				if (res.status !== 200 || length !== bytes)
					throw new Error(`large upstream read: ${res.status}, ${length} bytes`);
			}
		};
		await Promise.all(Array.from({ length: 16 }, reader));
		const seconds = (performance.now() - started) / 1000;
		clearInterval(sampler);
		figures["large upstream"] = {
			"full packument (MB)": +(bytes / 1e6).toFixed(1),
			[`${LARGE_UPSTREAM_READS} reads, 16 at a time (s)`]: +seconds.toFixed(2),
			"workerd resident growth over them (MB)": +((peak - baseline) / 1e6).toFixed(1),
		};
	} finally {
		await proxy?.stop();
		await source.stop();
	}
}

// ── run ────────────────────────────────────────────────────────────────────────────────────────

let reader = null;
if (ONLY === "" || ONLY === "reads") {
	let server = await startServer("npm start");
	try {
		const created = await fetch(`${server.url}/-/admin/tokens`, {
			method: "POST",
			headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
			body: JSON.stringify({ kind: "developer", name: "bench-reader", grants: [] }),
		});
		reader = (await created.json()).token;
		log(`publishing ${PACKAGES} packages with dependencies…`);
		const graph = Array.from({ length: PACKAGES }, (_, i) => ({
			name: graphName(i),
			version: "1.0.0",
			description: `generated package ${i} for the benchmark`,
			main: "index.js",
			license: "MIT",
			dependencies: dependenciesOf(i),
		}));
		notes.push(`${PACKAGES} packages published over HTTP in ${(await publishMany(server.url, graph, 8)).toFixed(1)} s`);
		log("cold npm install…");
		notes.push(`cold npm install of an app needing all ${PACKAGES}: ${coldInstall(server.url).toFixed(1)} s`);
		// Let the package objects' alarms (search index deliveries, download flushes) settle first.
		await sleep(8_000);
		const stable = await fetch(`${server.url}/packages/${target}/channels/stable`, {
			method: "POST",
			headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
			body: JSON.stringify({ version: "1.0.0" }),
		});
		if (stable.status !== 201) throw new Error(`channel: ${stable.status} ${await stable.text()}`);
		log("loading hot reads through the read tier…");
		await loadReads("npm start, read tier on", server.url);
		log("loading the pages for people…");
		await loadReads("pages, read tier on", server.url, PAGES);
		await loadStatic(server.url);

		if (SEARCH_PACKAGES > 0) {
			log(`publishing ${SEARCH_PACKAGES} packages for search…`);
			const corpus = Array.from({ length: SEARCH_PACKAGES }, (_, i) => ({
				name: `searchbench-${i}`,
				version: "1.0.0",
				description: `${pick(i, 6).join(" ")} searchbench`,
				keywords: pick(i + 7, 2),
				license: "MIT",
			}));
			const seconds = await publishMany(server.url, corpus, 16);
			notes.push(`${SEARCH_PACKAGES} search packages published in ${seconds.toFixed(0)} s`);
			const converge = await waitForIndex(server.url, SEARCH_PACKAGES);
			notes.push(`search index held all of them ${converge.toFixed(1)} s after the last publish`);
			log("loading search…");
			figures["npm start, read tier on"]["search (6 queries mixed)"] = await load(
				"search",
				`${server.url}/-/v1/search`,
				{
					requests: SEARCHES.map((text) => ({
						method: "GET",
						path: `/-/v1/search?text=${encodeURIComponent(text)}&size=20`,
					})),
				},
			);
		}
	} finally {
		await server.stop();
	}

	// The same reads with READ_CACHE_SECONDS=0: every one asks its object.
	log("hot reads with READ_CACHE_SECONDS=0…");
	server = await startServer("npm start", { READ_CACHE_SECONDS: "0" });
	try {
		await loadReads("npm start, READ_CACHE_SECONDS=0", server.url);
		await loadReads("pages, READ_CACHE_SECONDS=0", server.url, PAGES);
	} finally {
		await server.stop();
	}

	// Counting on versus off, each on a freshly started registry with nothing else going on.
	for (const count of ["true", "false"]) {
		log(`tarball with COUNT_DOWNLOADS=${count}…`);
		server = await startServer("npm start", { COUNT_DOWNLOADS: count });
		try {
			figures[`npm start, COUNT_DOWNLOADS=${count}`] = {
				tarball: await load(`tarball counted=${count}`, `${server.url}/${target}/-/${target}-1.0.0.tgz`),
			};
		} finally {
			await server.stop();
		}
	}

	log("wrangler dev…");
	server = await startServer("wrangler dev");
	try {
		await loadInstallPaths("wrangler dev", server.url);
	} finally {
		await server.stop();
	}

	// One URL for everything: the registry of the first step (its packages still in its state) as the
	// upstream of a second registry on a fresh state. Installs carry tokens on both sides, so no rate
	// limit for anonymous requests (all from 127.0.0.1 here) takes part.
	log("installs through a registry with an upstream…");
	server = await startServer("npm start");
	try {
		const upstreamReader = await readerToken(server.url);
		const direct = [coldInstall(server.url, upstreamReader), coldInstall(server.url, upstreamReader)];
		const proxy = await startServer(
			"npm start",
			{ UPSTREAM_URL: server.url, UPSTREAM_TOKEN: upstreamReader },
			scratch("proxy-state"),
		);
		try {
			const proxyReader = await readerToken(proxy.url);
			const cold = coldInstall(proxy.url, proxyReader);
			const warm = [coldInstall(proxy.url, proxyReader), coldInstall(proxy.url, proxyReader)];
			figures.upstream = {
				[`npm install of ${PACKAGES} packages from the upstream directly (s)`]: +direct[0].toFixed(1),
				"… again (s)": +direct[1].toFixed(1),
				"… through a registry with that upstream, cold: every document and tarball fetched (s)": +cold.toFixed(1),
				"… through it again, warm: everything in its objects and R2 (s)": +warm[0].toFixed(1),
				"… and once more, its read tier warm too (s)": +warm[1].toFixed(1),
			};
		} finally {
			await proxy.stop();
		}
	} finally {
		await server.stop();
	}
}

if (ONLY === "" || ONLY === "large-publishes") await largePublishes();
if (ONLY === "" || ONLY === "migrate") await migration();
if (ONLY === "" || ONLY === "backup") await backupBench();
if (ONLY === "" || ONLY === "parallel-publishes") await parallelPublishes();
if (ONLY === "" || ONLY === "publish-cost") await publishCost();
if (ONLY === "" || ONLY === "metrics") await metricsCost();
if (ONLY === "" || ONLY === "hot") await hotPath();
if (ONLY === "" || ONLY === "upstream-large") await largeUpstreamReads();
if (ONLY === "" || ONLY === "proxy") {
	const shared = { startServer, startVerdaccio, scratch, freePort, quietEnv, publishBody, asNpmSendsIt, readerToken };
	figures.proxy = await proxyBench({ ...shared, ADMIN, log, packages: PACKAGES, graphName, dependenciesOf });
}

console.log("");
for (const note of notes) console.log(note);
if (ONLY === "" || ONLY === "reads") {
	console.log(`\nautocannon, ${CONNECTIONS} connections, ${DURATION} s each (reads of ${target}):`);
	console.log(
		"server".padEnd(34),
		"endpoint".padEnd(26),
		"req/s".padStart(8),
		"p50 ms".padStart(8),
		"p99 ms".padStart(8),
		"calls/1000".padStart(11),
	);
	for (const [name, rows] of Object.entries(figures)) {
		if (Array.isArray(rows) || name === "upstream" || name === "backup" || name === "hot") continue;
		for (const [endpoint, f] of Object.entries(rows)) {
			console.log(
				name.padEnd(34),
				endpoint.padEnd(26),
				String(f.rps).padStart(8),
				String(f.p50).padStart(8),
				String(f.p99).padStart(8),
				String(f.perThousand ?? "").padStart(11),
			);
		}
	}
}
if (figures.hot) {
	console.log(
		`\nhot path (npm start, autocannon, ${CONNECTIONS} connections; ${HOT_ROUNDS} rounds of ${HOT_SECONDS} s of`,
		"authenticated /-/ping and the read, each first by turns; medians; share: the median of the rounds' read/ping ratios;",
		"95 % CI: the median share's 95 % confidence interval, in %; rounds: the least and greatest round's share;",
		"cpu: workerd's CPU µs per request, the share being ping's over the read's):",
	);
	const columns = [
		"req/s",
		"ping req/s",
		"p50 ms",
		"p99 ms",
		"share %",
		"95 % CI",
		"rounds %",
		"cpu µs",
		"ping cpu µs",
		"cpu share %",
	];
	console.log("endpoint".padEnd(30), ...columns.map((h) => h.padStart(11)), "calls/1000".padStart(11));
	for (const [endpoint, f] of Object.entries(figures.hot)) {
		const values = [
			f.rps,
			f.ping,
			f.p50,
			f.p99,
			f.share,
			f.interval,
			f.spread,
			f.cpuMicros,
			f.pingCpuMicros,
			f.cpuShare,
			f.perThousand,
		];
		const cells = values.map((v) => String(v).padStart(11));
		console.log(endpoint.padEnd(30), ...cells);
	}
}
if (figures["large upstream"]) {
	console.log("\nlarge upstream copies (npm start on both sides; reads after the copy was stored):");
	for (const [what, value] of Object.entries(figures["large upstream"])) console.log(`  ${what.padEnd(50)} ${value}`);
}
if (figures.backup) {
	console.log("\nexport and restore (scripts/migrate-archive.mjs, npm start; the 60 MB package through wrangler dev):");
	for (const [what, value] of Object.entries(figures.backup)) console.log(`  ${what.padEnd(70)} ${value}`);
}
if (figures.upstream) {
	console.log("\nupstream (each install with an empty npm cache, npm start on both sides):");
	for (const [what, seconds] of Object.entries(figures.upstream)) console.log(`  ${what.padEnd(92)} ${seconds}`);
}
const large = figures["large publishes (wrangler dev)"];
if (large) {
	console.log("\none publish of a package of random bytes through wrangler dev: growth of workerd's resident memory");
	console.log("(R2 floor: the same bytes written to R2, read back and written again by a trivial Worker;");
	console.log(" isolate: the registry isolate's heap in use plus ArrayBuffers, its peak and its growth)");
	console.log(
		"package".padEnd(10),
		"tarball".padStart(12),
		"body".padStart(12),
		"seconds".padStart(9),
		"growth MB".padStart(10),
		"R2 floor MB".padStart(12),
		"R2 floor s".padStart(11),
		"isolate peak MB".padStart(16),
		"isolate growth MB".padStart(18),
	);
	for (const row of large) {
		console.log(
			row.package.padEnd(10),
			String(row.tarballBytes).padStart(12),
			String(row.bodyBytes).padStart(12),
			String(row.seconds).padStart(9),
			String(row.memoryGrowthMB).padStart(10),
			String(row.r2FloorMB).padStart(12),
			String(row.r2FloorSeconds).padStart(11),
			String(row.isolatePeakMB).padStart(16),
			String(row.isolateGrowthMB).padStart(18),
		);
	}
}
if (figures.migration) {
	console.log("\nmigration from a local Verdaccio into npm start (npm run migrate -- --all --concurrency 8):");
	for (const [what, value] of Object.entries(figures.migration)) console.log(`  ${what.padEnd(60)} ${value}`);
}
const parallel = figures["parallel publishes (wrangler dev)"];
if (parallel) {
	console.log("\nparallel publishes into one isolate through wrangler dev (#22.4; the platform's limit: 128 MB):");
	for (const [what, value] of Object.entries(parallel)) console.log(`  ${what.padEnd(20)} ${value}`);
}
const cost = figures["publish cost"];
if (cost) {
	console.log("\npublish cost: one package, ~3 KB of fields per version, publishes one at a time (npm start)");
	console.log("versions".padEnd(10), "p50 ms".padStart(8), "p90 ms".padStart(8));
	for (const row of cost.rows) {
		console.log(String(row.versions).padEnd(10), String(row.p50).padStart(8), String(row.p90).padStart(8));
	}
	console.log(`full packument after: ${cost.fullPackumentBytes} bytes, first read ${cost.firstFullReadMs} ms`);
	console.log(`largest SQLite value: ${cost.largestSqliteValue.bytes} bytes (${cost.largestSqliteValue.where})`);
}
if (figures.metrics) {
	console.log(
		`\nregistry-wide metrics on and off (npm start, ${CONNECTIONS} connections, ${DURATION} s each, medians):`,
	);
	for (const [what, value] of Object.entries(figures.metrics)) console.log(`  ${what.padEnd(60)} ${value}`);
}
if (figures.proxy) printProxyBench(figures.proxy);
if (process.argv.includes("--json")) console.log(JSON.stringify({ notes, figures }, null, 2));
