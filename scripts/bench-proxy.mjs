// Section 14 of `npm run bench` (#25; BENCH_ONLY=proxy runs it alone): installs through this
// registry as a proxy, next to a Verdaccio doing the same and to the source itself.
//
// The bench's packages are published into a local Verdaccio with no uplinks: the source. Then, in
// BENCH_PROXY_ROUNDS rounds (default 2, the order of the three paths reversed every other round),
// npm installs of an app needing all of them, each with an empty npm cache:
//   (a) from the source directly;
//   (b) through this registry (`npm start`, a fresh state each round) with UPSTREAM_URL = the
//       source: cold (it holds nothing yet), then warm twice (everything in its objects and R2);
//   (c) through a second Verdaccio (fresh storage each round) whose uplink is the source: cold,
//       then warm twice.
// Beside the times, a trace of every install through this registry: npm's requests by kind
// (packument, tarball) with their median and p90 time as npm saw them (npm's http log), what the
// source was asked meanwhile (its request log: 200s, 304s), and what the registry's isolate counted
// (/-/admin/metrics: read-tier outcomes per route, package-object calls per method, R2 reads), and
// the CPU seconds each server used (a figure the shared machine's load moves less than the times).
// Besides the medians over every round, each round's own ratios (cold through this registry over
// cold through Verdaccio, warm over direct): the machine's load moves more between rounds than
// within one.
// BENCH_PROXY_PATHS=registry,direct runs only those paths; BENCH_PROXY_VARS='{"K":"v"}' sets more
// vars on the registry.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROUNDS = Number(process.env.BENCH_PROXY_ROUNDS ?? 2);
/** Which of the three paths run (BENCH_PROXY_PATHS, comma-separated; default all). */
const PATHS = (process.env.BENCH_PROXY_PATHS ?? "direct,registry,verdaccio").split(",").map((p) => p.trim());
/** More vars for the registry (BENCH_PROXY_VARS, JSON), to try settings: '{"READ_CACHE_SECONDS":"60"}'. */
const VARS = JSON.parse(process.env.BENCH_PROXY_VARS ?? "{}");
const WARM_INSTALLS = 2;

/**
 * `h`: what bench.mjs shares (its servers, scratch directories, packages and helpers). Answers the
 * figures; `printProxyBench` prints them.
 */
export async function proxyBench(shared) {
	const manifests = Array.from({ length: shared.packages }, (_, i) => ({
		name: shared.graphName(i),
		version: "1.0.0",
		description: `generated package ${i} for the benchmark`,
		main: "index.js",
		license: "MIT",
		dependencies: shared.dependenciesOf(i),
	}));
	const h = { ...shared, manifests };
	const source = await h.startVerdaccio({
		dir: h.scratch("proxy-source"),
		port: await h.freePort(),
		env: h.quietEnv,
		logLevel: "http",
	});
	try {
		h.log(`proxy: publishing ${h.manifests.length} packages into the source Verdaccio…`);
		let next = 0;
		await Promise.all(
			Array.from({ length: 8 }, async () => {
				while (next < h.manifests.length) {
					const manifest = h.manifests[next++];
					const put = await fetch(`${source.url}/${manifest.name}`, {
						method: "PUT",
						headers: { authorization: `Bearer ${source.token}`, "content-type": "application/json" },
						body: JSON.stringify(h.asNpmSendsIt(await h.publishBody(manifest), source.url)),
					});
					if (!put.ok) throw new Error(`source publish ${manifest.name}: ${put.status} ${await put.text()}`);
				}
			}),
		);
		const rows = { direct: [], registry: [], verdaccio: [] };
		/** The round the installs being measured belong to: the figures pair installs of one round. */
		let round = 0;
		const traces = [];
		/** One install, with what the source was asked meanwhile and the CPU the servers used. */
		const measured = async (url, token, servers) => {
			const cpuBefore = servers.map(cpuSeconds);
			const since = Date.now();
			const result = install(h, url, token);
			const until = Date.now();
			const cpu = servers.map((pid, i) => +(cpuSeconds(pid) - (cpuBefore[i] ?? 0)).toFixed(2));
			return { ...result, cpu, source: await sourceAsked(source, since, until) };
		};
		const paths = {
			direct: async () => {
				for (let i = 0; i < 1 + WARM_INSTALLS; i++) {
					rows.direct.push({ kind: "direct", round, ...(await measured(source.url, null, [source.pid])) });
				}
			},
			registry: async () => {
				const server = await h.startServer(
					"npm start",
					{ ...VARS, UPSTREAM_URL: source.url },
					h.scratch("proxy-state"),
				);
				try {
					const token = await h.readerToken(server.url);
					for (let i = 0; i < 1 + WARM_INSTALLS; i++) {
						const kind = i === 0 ? "cold" : "warm";
						const before = await metrics(h, server.url);
						const result = await measured(server.url, token, [server.pid, source.pid]);
						rows.registry.push({ kind, round, ...result });
						traces.push({ kind, seconds: result.seconds, registry: difference(await metrics(h, server.url), before) });
					}
				} finally {
					await server.stop();
				}
			},
			verdaccio: async () => {
				const proxy = await h.startVerdaccio({
					dir: h.scratch("proxy-verdaccio"),
					port: await h.freePort(),
					env: h.quietEnv,
					uplink: source.url,
				});
				try {
					for (let i = 0; i < 1 + WARM_INSTALLS; i++) {
						const kind = i === 0 ? "cold" : "warm";
						rows.verdaccio.push({ kind, round, ...(await measured(proxy.url, null, [proxy.pid, source.pid])) });
					}
				} finally {
					await proxy.stop();
				}
			},
		};
		for (round = 0; round < ROUNDS; round++) {
			const order = round % 2 === 0 ? ["direct", "registry", "verdaccio"] : ["verdaccio", "registry", "direct"];
			for (const path of order.filter((p) => PATHS.includes(p))) {
				h.log(`proxy: round ${round + 1}, ${path}…`);
				await paths[path]();
			}
		}
		return { packages: h.manifests.length, rounds: ROUNDS, rows, traces };
	} finally {
		await source.stop();
	}
}

/** One `npm install` with an empty cache: its time, and npm's requests by kind with their times. */
function install(h, url, token) {
	const dir = h.scratch("proxy-app");
	const dependencies = Object.fromEntries(h.manifests.map((m) => [m.name, "^1.0.0"]));
	writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bench-app", version: "1.0.0", dependencies }));
	const auth = token ? `//${new URL(url).host}/:_authToken=${token}\n` : "";
	writeFileSync(
		join(dir, ".npmrc"),
		`registry=${url}/\n${auth}cache=${join(dir, ".cache")}\naudit=false\nfund=false\nupdate-notifier=false\n`,
	);
	const started = performance.now();
	const result = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--loglevel=http"], {
		cwd: dir,
		env: { ...h.quietEnv, HOME: dir },
		encoding: "utf8",
		maxBuffer: 64 * 1024 * 1024,
	});
	const seconds = (performance.now() - started) / 1000;
	if (result.status !== 0) throw new Error(`npm install failed:\n${result.stdout}${result.stderr}`);
	return { seconds: +seconds.toFixed(2), requests: npmRequests(result.stderr) };
}

/** npm's `http fetch GET 200 <url> 35ms (cache miss)` lines, by kind: count, statuses, median and p90 ms. */
function npmRequests(log) {
	const byKind = {};
	for (const match of log.matchAll(/http fetch (\w+) (\d+) (\S+) (\d+)ms/g)) {
		const [, , status, url, ms] = match;
		const kind = url.endsWith(".tgz") ? "tarball" : "packument";
		byKind[kind] ??= { count: 0, statuses: {}, ms: [] };
		byKind[kind].count += 1;
		byKind[kind].statuses[status] = (byKind[kind].statuses[status] ?? 0) + 1;
		byKind[kind].ms.push(Number(ms));
	}
	for (const row of Object.values(byKind)) {
		const sorted = row.ms.sort((a, b) => a - b);
		row.p50 = sorted[Math.floor(sorted.length / 2)];
		row.p90 = sorted[Math.floor(sorted.length * 0.9)];
		row.sum = sorted.reduce((a, b) => a + b, 0);
		delete row.ms;
	}
	return byKind;
}

/**
 * What the source was asked between two times (Verdaccio at level http logs JSON lines, a request
 * once as asked, then lines with its status): requests by kind, and its 304 answers. The log is
 * read once a request made after `until` shows in it, so nothing of the window is still on its way.
 */
async function sourceAsked(source, since, until) {
	await fetch(`${source.url}/-/ping`).then((r) => r.arrayBuffer());
	const counts = {};
	for (let attempt = 0; attempt < 100; attempt++) {
		const entries = source
			.log()
			.split("\n")
			.filter((line) => line.startsWith("{"))
			.map((line) => {
				try {
					return JSON.parse(line);
				} catch {
					return null;
				}
			})
			.filter((entry) => entry !== null && typeof entry.time === "number");
		if (!entries.some((entry) => entry.time > until)) {
			await new Promise((r) => setTimeout(r, 100));
			continue;
		}
		for (const entry of entries) {
			if (entry.time < since || entry.time > until) continue;
			const asked = typeof entry.req?.url === "string" ? entry.req.url : null;
			const answered = entry.status === 304 && typeof entry.request?.url === "string" ? entry.request.url : null;
			const url = asked ?? answered;
			if (url === null) continue;
			const kind = url.endsWith(".tgz") ? "tarball" : url.startsWith("/-/") ? "other" : "packument";
			const key = asked ? kind : `${kind} 304`;
			counts[key] = (counts[key] ?? 0) + 1;
		}
		return counts;
	}
	return { unknown: 1 };
}

/** CPU seconds (user and system) used so far by a process and everything under it. */
function cpuSeconds(pid) {
	const children = new Map();
	const times = new Map();
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
			const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
			const ppid = Number(fields[1]);
			children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
			times.set(Number(entry), Number(fields[11]) + Number(fields[12]));
		} catch {}
	}
	let ticks = 0;
	const queue = [pid];
	while (queue.length > 0) {
		const next = queue.shift();
		ticks += times.get(next) ?? 0;
		queue.push(...(children.get(next) ?? []));
	}
	return ticks / 100;
}

async function metrics(h, url) {
	const get = () => fetch(`${url}/-/admin/metrics`, { headers: { authorization: `Bearer ${h.ADMIN}` } });
	// A connection kept alive through a long install may have been closed by the server meanwhile.
	const res = await get().catch(get);
	const { reads, objectMethods, r2Reads } = await res.json();
	return flatten({ reads, objectMethods, r2Reads });
}

function flatten(value, prefix = "", out = {}) {
	for (const [key, inner] of Object.entries(value ?? {})) {
		const path = prefix ? `${prefix}.${key}` : key;
		if (typeof inner === "number") out[path] = inner;
		else if (typeof inner === "object") flatten(inner, path, out);
	}
	return out;
}

/** The counters that moved between two snapshots of /-/admin/metrics. */
function difference(after, before) {
	const out = {};
	for (const [key, value] of Object.entries(after)) {
		const moved = value - (before[key] ?? 0);
		if (moved !== 0) out[key] = moved;
	}
	return out;
}

export function printProxyBench(figures) {
	const { rows, traces, packages, rounds } = figures;
	console.log(
		`\nproxy installs (#25): npm install of ${packages} packages, empty npm cache each, ${rounds} rounds (order reversed`,
		"every other round); the source: a local Verdaccio without uplinks",
	);
	const range = (list) => {
		const values = list.map((r) => r.seconds).sort((a, b) => a - b);
		if (values.length === 0) return "";
		return values.length === 1 ? values[0].toFixed(2) : `${values[0].toFixed(2)}–${values.at(-1)?.toFixed(2)}`;
	};
	const of = (path, kind) => rows[path].filter((r) => kind === undefined || r.kind === kind);
	console.log(`  from the source directly (s)                          ${range(of("direct"))}`);
	console.log(`  through this registry, cold (s)                       ${range(of("registry", "cold"))}`);
	console.log(`  through this registry, warm (s)                       ${range(of("registry", "warm"))}`);
	console.log(`  through a Verdaccio with the source as uplink, cold (s) ${range(of("verdaccio", "cold"))}`);
	console.log(`  through a Verdaccio with the source as uplink, warm (s) ${range(of("verdaccio", "warm"))}`);
	const median = (list) => {
		const values = list.map((r) => r.seconds).sort((a, b) => a - b);
		return values[Math.floor(values.length / 2)] ?? Number.NaN;
	};
	const direct = median(of("direct"));
	console.log(
		`  medians: warm through this registry / direct = ${(median(of("registry", "warm")) / direct).toFixed(2)}x;`,
		`cold through this registry / cold through Verdaccio = ${(median(of("registry", "cold")) / median(of("verdaccio", "cold"))).toFixed(2)}x`,
	);
	// The machine's load moves between rounds more than within one: each round's own ratios, paired.
	const ofRound = (path, kind, round) => of(path, kind).filter((r) => r.round === round);
	const perRound = [...new Set(rows.registry.map((r) => r.round))].map((round) => {
		const cold = median(ofRound("registry", "cold", round)) / median(ofRound("verdaccio", "cold", round));
		const warm = median(ofRound("registry", "warm", round)) / median(ofRound("direct", undefined, round));
		return `round ${round + 1}: cold ${cold.toFixed(2)}x Verdaccio's, warm ${warm.toFixed(2)}x direct`;
	});
	if (perRound.length > 0) console.log(`  each round's own pairs: ${perRound.join("; ")}`);
	console.log(
		"\n  per install: npm's requests (p50/p90 ms as npm timed them, queueing in npm included), the CPU",
		"seconds of the server and of the source (direct: the source's), and what the source was asked:",
	);
	for (const [path, list] of Object.entries(rows)) {
		for (const row of list) {
			const kinds = Object.entries(row.requests).map(([kind, r]) => `${kind} ${r.count}: ${r.p50}/${r.p90}`);
			console.log(
				`  ${path} ${row.kind} ${row.seconds} s; ${kinds.join(", ")}; cpu ${row.cpu.join(" + ")} s; source ${JSON.stringify(row.source)}`,
			);
		}
	}
	console.log("\n  what this registry's isolate counted in each install (read-tier outcomes, object calls, R2 reads):");
	for (const trace of traces) console.log(`  ${trace.kind} ${trace.seconds} s: ${JSON.stringify(trace.registry)}`);
}
