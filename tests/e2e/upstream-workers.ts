import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { newSecret } from "../../scripts/dev-vars.mjs";
import { isolatedWranglerConfig, ROOT, readWranglerConfig } from "./wrangler-config.ts";

// The upstream registries of the integration tests that need one (tests/upstream-*.test.ts): this
// registry itself, bundled as `wrangler deploy` ships it, run as auxiliary Workers of the vitest
// project with storage of their own, behind a small network Worker (tests/helpers/upstream-network.js)
// that every outbound fetch of the registry under test goes through.

export const UPSTREAM_ADMIN_TOKEN = "upstream-admin-token";

/**
 * Hosts of the upstream registries, each a fresh instance: `http://{host}`. The third serves the
 * test of the upstream figures alone, so no other test's requests change them.
 */
export const UPSTREAM_HOSTS = ["upstream.test", "second-upstream.test", "third-upstream.test"] as const;

type WorkerOptions = Record<string, unknown>;

/** Bundles the registry (once per test run) into `dir` and answers its modules. */
function bundle(dir: string) {
	const outdir = join(dir, "bundle");
	const config = isolatedWranglerConfig(join(dir, "wrangler"), {});
	const wrangler = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
	const result = spawnSync(
		process.execPath,
		[wrangler, "deploy", "--dry-run", "--outdir", outdir, "--config", config],
		{
			cwd: join(dir, "wrangler"),
			env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
			encoding: "utf8",
		},
	);
	if (result.status !== 0) throw new Error(`bundling the upstream registry failed\n${result.stdout}${result.stderr}`);
	const rules = (readWranglerConfig() as { rules?: { type: string; globs: string[] }[] }).rules ?? [];
	const suffixes = rules.flatMap((rule) =>
		rule.globs.map((glob) => ({ type: rule.type, suffix: glob.slice(glob.lastIndexOf("*") + 1) })),
	);
	const extra = readdirSync(outdir).flatMap((file) => {
		const rule = suffixes.find((r) => file.endsWith(r.suffix));
		return file === "index.js" || !rule ? [] : [{ type: rule.type, path: join(outdir, file) }];
	});
	return { root: outdir, modules: [{ type: "ESModule", path: join(outdir, "index.js") }, ...extra] };
}

/** The auxiliary Workers: one registry per upstream host, and the network in front of them. */
export function upstreamWorkers(dir: string): WorkerOptions[] {
	const { root, modules } = bundle(dir);
	const { compatibility_date, durable_objects } = readWranglerConfig() as {
		compatibility_date?: string;
		durable_objects?: { bindings?: { name: string; class_name: string }[] };
	};
	const durableObjects = Object.fromEntries(
		(durable_objects?.bindings ?? []).map(({ name, class_name }) => [name, { className: class_name, useSQLite: true }]),
	);
	const registries = UPSTREAM_HOSTS.map((host) => ({
		name: workerName(host),
		compatibilityDate: compatibility_date,
		modulesRoot: root,
		modules,
		bindings: {
			ADMIN_TOKEN: UPSTREAM_ADMIN_TOKEN,
			URL_SIGNING_SECRET: `${host}-signing-secret`,
			ENCRYPTION_KEY: `${host}-encryption-key`,
			REGISTRY_SIGNING_KEY: newSecret("REGISTRY_SIGNING_KEY"),
			DEFAULT_ACCESS: "public",
		},
		// Every object of wrangler.jsonc: an upstream missing one (hooks, metrics, backups) logs a
		// failed alarm job for each package it serves.
		durableObjects,
		r2Buckets: { BLOBS: `${workerName(host)}-blobs` },
		// One Miniflare has one colo cache for all its Workers, and the read tier's keys there are
		// not per deployment: the upstreams keep to their isolates' memory instead.
		cacheAPI: false,
	}));
	const network = {
		name: "upstream-network",
		compatibilityDate: compatibility_date,
		modules: [
			{
				type: "ESModule",
				path: join(ROOT, "tests", "helpers", "upstream-network.js"),
				contents: readFileSync(join(ROOT, "tests", "helpers", "upstream-network.js"), "utf8"),
			},
		],
		serviceBindings: Object.fromEntries(
			UPSTREAM_HOSTS.map((host) => [`HOST_${host.replaceAll(/[^a-z0-9]/gi, "_").toUpperCase()}`, workerName(host)]),
		),
	};
	return [...registries, network];
}

function workerName(host: string): string {
	return `registry-${host.replaceAll(/[^a-z0-9]/gi, "-")}`;
}
