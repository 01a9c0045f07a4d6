// `npm start`: serves the registry on one machine. The Worker is bundled by wrangler, exactly as
// `wrangler deploy` would ship it, and run on workerd through Miniflare with the bindings of
// wrangler.jsonc and the state `wrangler dev` uses (.wrangler/state), so the two modes share data.
// Unlike `wrangler dev` there is no file watching, no proxy worker and no per-request logging.
//
// Clients do not reach Miniflare's entry worker: it costs two thirds of the throughput, and it
// keeps a client's own CF-Connecting-IP header, so anyone could pick the address that rate limits,
// token CIDR ranges and the audit trail see. The Worker is served on a socket of its own instead.
// On 127.0.0.1 or ::1 (the default) every client is a process of this machine: clients reach
// that socket directly and the Worker is told their one address (LOCAL_CLIENT_ADDRESS), whatever
// CF-Connecting-IP they send. On any other HOST a small front (local-edge.mjs) does what
// Cloudflare's edge does: it sets CF-Connecting-IP from each connection, at the cost of a hop.

import { spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { devVarsMoved, devVarsPath, ensureSecrets, SECRETS } from "./dev-vars.mjs";
import { serveLocalEdge } from "./local-edge.mjs";

const root = resolve(import.meta.dirname, "..");
const host = process.env.HOST ?? "127.0.0.1";
const port = Number(process.env.PORT ?? 8787);
const persistTo = resolve(root, process.env.PERSIST_TO ?? ".wrangler/state");
const outdir = join(root, ".wrangler", "serve");
const quiet = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

// Secrets in the environment win (scripts, containers); otherwise .dev.vars (or DEV_VARS) holds them.
ensureSecrets(SECRETS.filter((name) => !process.env[name]));
bundle();

const { unstable_getMiniflareWorkerOptions, unstable_readConfig } = await import("wrangler");
// The Miniflare that wrangler itself runs, so that the on-disk state format is the same.
const wranglerRequire = createRequire(createRequire(import.meta.url).resolve("wrangler"));
const { Miniflare, convertV4MiniflareOptions } = await import(pathToFileURL(wranglerRequire.resolve("miniflare")).href);

const configPath = join(root, "wrangler.jsonc");
const config = unstable_readConfig({ config: configPath });
// wrangler reads the .dev.vars beside wrangler.jsonc by itself; a file elsewhere is named instead.
const envFiles = devVarsMoved ? [devVarsPath] : undefined;
const { modulesRules: _rules, ...workerOptions } = unstable_getMiniflareWorkerOptions(configPath, undefined, {
	envFiles,
}).workerOptions;
// Any var or secret can be overridden from the environment: `PUBLIC_URL=https://… npm start`.
// UPSTREAM_TOKEN, an optional secret wrangler.jsonc cannot list (see there), comes only from there.
for (const name of [...SECRETS, "UPSTREAM_TOKEN", ...Object.keys(config.vars)]) {
	if (process.env[name]) workerOptions.bindings = { ...workerOptions.bindings, [name]: process.env[name] };
}
// NO_RATE_LIMITS=true (benchmarks only): no per-IP limits, which a load generator on one address meets.
if (process.env.NO_RATE_LIMITS === "true") delete workerOptions.ratelimits;
const loopback = host === "127.0.0.1" || host === "::1";
// The colo's Cache API is off here (cacheAPI below): COLO_CACHE=false tells the read tier not to ask it.
workerOptions.bindings = {
	...workerOptions.bindings,
	LOCAL_CLIENT_ADDRESS: loopback ? host : "",
	COLO_CACHE: "false",
};

const mf = new Miniflare(
	convertV4MiniflareOptions({
		rootPath: root,
		// Miniflare's own entry stays on a private port.
		host: "127.0.0.1",
		port: 0,
		logRequests: false,
		...(process.env.INSPECT ? { inspectorPort: Number(process.env.INSPECT) } : {}),
		resourcePersistencePath: join(persistTo, "v3"),
		resourceTmpPath: join(root, ".wrangler", "tmp"),
		workers: [
			{
				...workerOptions,
				// One machine runs the Worker and its objects in one isolate: the read tier's second
				// level, the colo's Cache API that a colo's isolates share, has no one to share with
				// here, and Miniflare simulates it with an object, a SQLite row and a file per entry,
				// which cost a cold install through the upstream a sixth of its time (#25). Off, and the
				// Worker told so (COLO_CACHE), so it makes no calls at all: each was a subrequest to
				// Miniflare's stand-in. `wrangler dev` keeps it, as Cloudflare has it.
				cacheAPI: false,
				name: config.name,
				modulesRoot: outdir,
				modules: bundledModules(),
				unsafeDirectSockets: [loopback ? { host, port } : { host: "127.0.0.1", port: 0 }],
			},
		],
	}),
);
await mf.ready;
const worker = await mf.unsafeGetDirectURL(config.name);
const edge = loopback ? null : await serveLocalEdge({ host, port, worker });
console.log(`registry listening on ${edge?.url ?? worker.origin} (state in ${persistTo})`);

// The cron triggers of wrangler.jsonc (the daily backup), which Miniflare does not run by itself:
// checked each minute, for the "minute hour * * *" form wrangler.jsonc uses.
const crons = (config.triggers?.crons ?? []).map((cron) => ({ cron, at: /^(\d+) (\d+) \* \* \*$/.exec(cron) }));
setInterval(async () => {
	const now = new Date();
	for (const { cron, at } of crons) {
		if (!at || Number(at[1]) !== now.getUTCMinutes() || Number(at[2]) !== now.getUTCHours()) continue;
		try {
			await (await mf.getWorker(config.name)).scheduled({ cron, scheduledTime: now });
		} catch (error) {
			console.error(`cron ${cron}: ${error.message}`);
		}
	}
}, 60_000).unref();

for (const signal of ["SIGINT", "SIGTERM"]) {
	process.once(signal, async () => {
		await edge?.close();
		await mf.dispose();
		process.exit(0);
	});
}

/**
 * The modules of the bundle: index.js, plus the files wrangler copied beside it for its module
 * rules (the loader and the pages' script and stylesheet are bundled as text), matched by what
 * each glob says after its last `*` (`.browser.js`, `.css`).
 */
function bundledModules() {
	const rules = (config.rules ?? []).flatMap((rule) =>
		rule.globs.map((glob) => ({ type: rule.type, suffix: glob.slice(glob.lastIndexOf("*") + 1) })),
	);
	const extra = readdirSync(outdir).flatMap((file) => {
		const rule = rules.find((r) => file.endsWith(r.suffix));
		return file === "index.js" || !rule ? [] : [{ type: rule.type, path: join(outdir, file) }];
	});
	return [{ type: "ESModule", path: join(outdir, "index.js") }, ...extra];
}

function bundle() {
	rmSync(outdir, { recursive: true, force: true });
	const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
	const result = spawnSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", outdir], {
		cwd: root,
		env: quiet,
		encoding: "utf8",
	});
	if (result.status !== 0) {
		process.stderr.write(result.stdout + result.stderr);
		process.exit(result.status ?? 1);
	}
}
