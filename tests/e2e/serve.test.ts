import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanEnv, freePort, ok, ROOT, tempDir } from "./harness";

// The two ways the registry leaves a laptop: `npm start` (serving on one machine) and
// `wrangler deploy` (the same code on Cloudflare), checked as far as this machine allows; and
// `npm run dev`, the edit loop. The secrets go to a DEV_VARS file and the state to a PERSIST_TO
// folder of the test's own: the working tree's .dev.vars and .wrangler/state are left alone.

const running = new Set<ChildProcess>();

afterAll(async () => {
	await Promise.all([...running].map(stop));
});

type Serving = { url: string; log: () => string; child: ChildProcess };

/** Runs `npm <args>` in the project until it answers /-/ping and its log satisfies `ready`. */
async function serve(args: string[], env: Record<string, string>, ready: (log: string) => boolean): Promise<Serving> {
	const port = await freePort();
	const child = spawn("npm", args, {
		cwd: ROOT,
		env: cleanEnv({ ...env, PORT: String(port) }),
		stdio: ["ignore", "pipe", "pipe"],
		detached: true,
	});
	running.add(child);
	let log = "";
	child.stdout?.on("data", (c) => {
		log += c;
	});
	child.stderr?.on("data", (c) => {
		log += c;
	});
	const url = `http://127.0.0.1:${port}`;
	const deadline = Date.now() + 90_000;
	while (Date.now() < deadline) {
		if (child.exitCode !== null) throw new Error(`npm ${args.join(" ")} exited\n${log}`);
		const pong = await fetch(`${url}/-/ping`).then(
			(res) => res.ok,
			() => false,
		);
		if (pong && ready(log)) return { url, log: () => log, child };
		await new Promise((r) => setTimeout(r, 250));
	}
	throw new Error(`npm ${args.join(" ")} did not start\n${log}`);
}

async function stop(child: ChildProcess): Promise<void> {
	running.delete(child);
	if (!child.pid || child.exitCode !== null || child.signalCode !== null) return;
	const exited = new Promise((r) => child.once("exit", r));
	process.kill(-child.pid, "SIGTERM");
	await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
	if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid, "SIGKILL");
}

async function whoami(url: string, token: string): Promise<unknown> {
	return (await fetch(`${url}/-/whoami`, { headers: { authorization: `Bearer ${token}` } })).json();
}

/** The secrets of a dev vars file as `npm start` and `npm run dev` create them. */
function secretsIn(path: string): { admin: string; text: string } {
	const text = readFileSync(path, "utf8");
	expect(text).toMatch(/^ADMIN_TOKEN=[0-9a-f]{64}$/m);
	expect(text).toMatch(/^URL_SIGNING_SECRET=[0-9a-f]{64}$/m);
	expect(text).toMatch(/^ENCRYPTION_KEY=[0-9a-f]{64}$/m);
	expect(statSync(path).mode & 0o777).toBe(0o600);
	return { admin: /^ADMIN_TOKEN=(\S+)$/m.exec(text)?.[1] ?? "", text };
}

/** What a test can see of the working tree's .dev.vars without reading it: whether and when it was written. */
function treeDevVars(): number | undefined {
	return statSync(join(ROOT, ".dev.vars"), { throwIfNoEntry: false })?.mtimeMs;
}

function hasSqlite(state: string, objectClass: string): boolean {
	return readdirSync(join(state, "v3", "do", `workers-registry-${objectClass}`)).some((f) => f.endsWith(".sqlite"));
}

describe("running the registry", () => {
	it("npm start creates the secrets on its first run, keeps them on the next, and persists state", async () => {
		const tree = treeDevVars();
		const dir = tempDir("start");
		const devVars = join(dir, "dev.vars");
		const env = { DEV_VARS: devVars, PERSIST_TO: join(dir, "state") };
		const listening = (log: string) => log.includes("registry listening on");

		const first = await serve(["start"], env, listening);
		expect(first.log()).toContain(`registry listening on ${first.url} (state in ${env.PERSIST_TO})`);
		expect(first.log()).toContain(`created ADMIN_TOKEN in ${devVars}`);
		expect(first.log()).toContain(`created URL_SIGNING_SECRET in ${devVars}`);
		const { admin, text } = secretsIn(devVars);
		expect(await whoami(first.url, admin)).toEqual({ username: "admin" });
		const created = await fetch(`${first.url}/-/admin/tokens`, {
			method: "POST",
			headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
			body: JSON.stringify({ kind: "developer", name: "start-check", grants: [] }),
		});
		expect(created.status).toBe(201);
		// The bundle has more than one module (the loader is bundled as text): all of them are served.
		const loader = await fetch(`${first.url}/loader.js`);
		expect(await loader.text()).toContain("export async function load(");
		expect(hasSqlite(env.PERSIST_TO, "AuthStoreDO")).toBe(true);
		await stop(first.child);

		// The second run finds both secrets: it creates nothing, and the admin token and the state stay.
		const second = await serve(["start"], env, listening);
		expect(second.log()).toContain(`admin token: ADMIN_TOKEN in ${devVars}`);
		expect(second.log()).not.toContain("created ");
		expect(readFileSync(devVars, "utf8")).toBe(text);
		expect(await whoami(second.url, admin)).toEqual({ username: "admin" });
		const listed = await fetch(`${second.url}/-/admin/tokens`, { headers: { authorization: `Bearer ${admin}` } });
		const { tokens } = (await listed.json()) as { tokens: { name: string }[] };
		expect(tokens.map((t) => t.name)).toContain("start-check");
		await stop(second.child);
		expect(treeDevVars()).toBe(tree);
	});

	// On 127.0.0.1 clients reach the Worker's socket and are all that address; on any other HOST the
	// local edge sets each connection's own. Either way a client's CF-Connecting-IP counts for nothing.
	it.each([
		["on 127.0.0.1, the Worker's own socket", "127.0.0.1"],
		["on every interface, behind the local edge", "0.0.0.0"],
	])(
		"npm start takes the client's address from the connection, never from CF-Connecting-IP (#9.3), %s",
		async (_, host) => {
			const dir = tempDir("edge");
			const env = { DEV_VARS: join(dir, "dev.vars"), PERSIST_TO: join(dir, "state"), HOST: host };
			const server = await serve(["start"], env, (log) => log.includes("registry listening on"));
			const { admin } = secretsIn(env.DEV_VARS);
			const spoofed = {
				authorization: `Bearer ${admin}`,
				"content-type": "application/json",
				"cf-connecting-ip": "203.0.113.9",
			};
			// A token allowed only from 203.0.113.0/24 stays refused however the client claims to be there.
			const created = await fetch(`${server.url}/-/admin/tokens`, {
				method: "POST",
				headers: spoofed,
				body: JSON.stringify({ kind: "developer", name: "fenced", grants: [], cidr: ["203.0.113.0/24"] }),
			});
			const { token } = (await created.json()) as { token: string };
			const fenced = await fetch(`${server.url}/-/whoami`, {
				headers: { authorization: `Bearer ${token}`, "cf-connecting-ip": "203.0.113.9" },
			});
			expect(fenced.status).toBe(403);
			// The audit trail records the real address.
			const audit = await fetch(`${server.url}/-/admin/audit?limit=1`, {
				headers: { authorization: `Bearer ${admin}` },
			});
			const { entries } = (await audit.json()) as { entries: { action: string; ip: string }[] };
			expect(entries[0]).toMatchObject({ action: "token.create", ip: "127.0.0.1" });
			await stop(server.child);
		},
	);

	it("npm run dev creates the same secrets before wrangler dev starts on them", async () => {
		const tree = treeDevVars();
		const dir = tempDir("dev");
		const devVars = join(dir, "dev.vars");
		const env = { DEV_VARS: devVars, PERSIST_TO: join(dir, "state") };
		const dev = await serve(["run", "dev"], env, () => true);
		expect(dev.log()).toContain(`created ADMIN_TOKEN in ${devVars}`);
		expect(dev.log()).toContain(`created URL_SIGNING_SECRET in ${devVars}`);
		const { admin } = secretsIn(devVars);
		expect(await whoami(dev.url, admin)).toEqual({ username: "admin" });
		expect(hasSqlite(env.PERSIST_TO, "AuthStoreDO")).toBe(true);
		await stop(dev.child);
		expect(treeDevVars()).toBe(tree);
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
