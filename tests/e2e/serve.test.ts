import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanEnv, freePort, ok, ROOT, tempDir } from "./harness";

// The two ways the registry leaves a laptop: `npm start` (serving on one machine) and
// `wrangler deploy` (the same code on Cloudflare), checked as far as this machine allows.

let serving: ChildProcess | null = null;

afterAll(() => {
	if (serving?.pid && serving.exitCode === null) process.kill(-serving.pid, "SIGTERM");
});

describe("running the registry", () => {
	it("npm start serves the registry with the admin token from .dev.vars and persists state", async () => {
		const port = await freePort();
		const state = tempDir("start-state");
		serving = spawn("npm", ["start"], {
			cwd: ROOT,
			env: cleanEnv({ PORT: String(port), PERSIST_TO: state }),
			stdio: ["ignore", "pipe", "pipe"],
			detached: true,
		});
		let log = "";
		serving.stdout?.on("data", (c) => {
			log += c;
		});
		serving.stderr?.on("data", (c) => {
			log += c;
		});
		const url = `http://127.0.0.1:${port}`;
		const deadline = Date.now() + 90_000;
		while (!log.includes("registry listening on") && Date.now() < deadline) {
			if (serving.exitCode !== null) throw new Error(`npm start exited\n${log}`);
			await new Promise((r) => setTimeout(r, 250));
		}
		expect(log).toContain(`registry listening on ${url}`);
		expect(log).toMatch(/ADMIN_TOKEN in .*\.dev\.vars/);

		const admin = /^ADMIN_TOKEN=(\S+)$/m.exec(readFileSync(join(ROOT, ".dev.vars"), "utf8"))?.[1];
		const whoami = await fetch(`${url}/-/whoami`, { headers: { authorization: `Bearer ${admin}` } });
		expect(await whoami.json()).toEqual({ username: "admin" });
		const created = await fetch(`${url}/-/admin/tokens`, {
			method: "POST",
			headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
			body: JSON.stringify({ kind: "developer", name: "start-check", grants: [] }),
		});
		expect(created.status).toBe(201);
		// The bundle has more than one module (the loader is bundled as text): all of them are served.
		const loader = await fetch(`${url}/loader.js`);
		expect(await loader.text()).toContain("export async function load(");
		const stored = readdirSync(join(state, "v3", "do", "workers-registry-AuthStoreDO"));
		expect(stored.some((file) => file.endsWith(".sqlite"))).toBe(true);
	});

	it("wrangler deploy --dry-run bundles the Worker with its Durable Objects and R2 bucket", async () => {
		const outdir = tempDir("deploy");
		const result = await ok(
			"node",
			[join(ROOT, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir],
			{
				cwd: ROOT,
				env: { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
			},
		);
		expect(result.output).toMatch(/env\.PACKAGES \(PackageMetadataDO\)/);
		expect(result.output).toMatch(/env\.AUTH \(AuthStoreDO\)/);
		expect(result.output).toMatch(/env\.BLOBS \(registry-blobs\)/);
		expect(result.output).toMatch(/--dry-run: exiting now/);
		expect(readFileSync(join(outdir, "index.js"), "utf8")).toMatch(/PackageMetadataDO = class extends DurableObject/);
	});
});
