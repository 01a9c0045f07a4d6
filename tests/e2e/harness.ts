import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { inject } from "vitest";
import { newSecret } from "../../scripts/dev-vars.mjs";
import { CLIENTS_BIN } from "./clients-install";
import { bindingNames, isolatedWranglerConfig, ROOT } from "./wrangler-config";

// End-to-end harness: a real `wrangler dev` on a free loopback port with its own state directory,
// and real package-manager CLIs run the way a user runs them, in throwaway project directories.

export { ROOT };

const BIN = join(ROOT, "node_modules", ".bin");

/** A fresh directory under this run's scratch folder (tests/e2e/scratch.ts removes it at the end). */
export function tempDir(label: string): string {
	return mkdtempSync(join(inject("e2eScratch"), `${label}-`));
}

export async function freePort(): Promise<number> {
	// Below Linux's ephemeral range (32768 and up): a port the kernel handed out for listening could
	// be handed again to any outgoing connection (the suites make thousands) before the server binds it.
	for (let attempt = 0; attempt < 200; attempt++) {
		const port = 20_000 + Math.floor(Math.random() * 12_000);
		if (await bindable(port)) return port;
	}
	throw new Error("no free port between 20000 and 32000");
}

function bindable(port: number): Promise<boolean> {
	return new Promise((resolveBindable) => {
		const server = createServer();
		server.unref();
		server.once("error", () => resolveBindable(false));
		server.listen(port, "127.0.0.1", () => server.close(() => resolveBindable(true)));
	});
}

let home: string | null = null;
let bindings: Set<string> | null = null;

/**
 * The environment of a child process: without the npm_* variables `npm test` passes down and
 * without the Worker's vars and secrets (`npm start` would take them), with the pinned pnpm, yarn
 * and bun first on the PATH, and with a HOME of its own, so no user-level .npmrc, .yarnrc.yml or
 * bunfig.toml takes part.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
	home ??= tempDir("home");
	bindings ??= new Set(bindingNames());
	const env: NodeJS.ProcessEnv = {};
	for (const [key, value] of Object.entries(process.env)) {
		if (!/^npm_/i.test(key) && key !== "CI" && key !== "NODE_OPTIONS" && !bindings.has(key)) env[key] = value;
	}
	env.PATH = `${CLIENTS_BIN}:${BIN}:${process.env.PATH ?? ""}`;
	env.HOME = home;
	return { ...env, ...extra };
}

export type RunResult = { code: number; stdout: string; stderr: string; output: string };

/** Runs a command to completion; `answers` reply to interactive prompts as they appear. */
export function run(
	command: string,
	args: string[],
	options: { cwd: string; env?: Record<string, string>; answers?: [RegExp, string][]; timeoutMs?: number },
): Promise<RunResult> {
	return new Promise((resolveRun, reject) => {
		const child = spawn(command, args, { cwd: options.cwd, env: cleanEnv(options.env), stdio: "pipe" });
		let stdout = "";
		let stderr = "";
		const pending = [...(options.answers ?? [])];
		const onData = (which: "out" | "err") => (chunk: Buffer) => {
			if (which === "out") stdout += chunk;
			else stderr += chunk;
			const next = pending[0];
			if (next?.[0].test(stdout + stderr)) {
				pending.shift();
				child.stdin.write(`${next[1]}\n`);
			}
		};
		child.stdout.on("data", onData("out"));
		child.stderr.on("data", onData("err"));
		if (pending.length === 0) child.stdin.end();
		const timer = setTimeout(() => {
			child.kill("SIGKILL");
			reject(new Error(`${command} ${args.join(" ")} timed out\n${stdout}\n${stderr}`));
		}, options.timeoutMs ?? 120_000);
		child.on("error", reject);
		child.on("close", (code) => {
			clearTimeout(timer);
			resolveRun({ code: code ?? -1, stdout, stderr, output: stdout + stderr });
		});
	});
}

/** Like run, but fails the test with the command's output when it does not exit 0. */
export async function ok(command: string, args: string[], options: Parameters<typeof run>[2]): Promise<RunResult> {
	const result = await run(command, args, options);
	if (result.code !== 0) {
		throw new Error(`${command} ${args.join(" ")} exited ${result.code}\n${result.output}`);
	}
	return result;
}

export class RegistryServer {
	readonly adminToken: string;
	private readonly signingSecret: string;
	private readonly encryptionKey: string;
	private readonly registrySigningKey: string;
	private child: ChildProcess | null = null;
	private log = "";

	// wrangler dev runs on a copy of the config in a folder of its own, with a .dev.vars there that
	// holds the secrets: it reads no .dev.vars or .env of the working tree (see wrangler-config.ts).
	private readonly configDir = tempDir("wrangler");

	private constructor(
		readonly port: number,
		readonly stateDir: string,
		private readonly vars: Record<string, string>,
		/** An instance whose secrets this one shares (a restore target must have them); else new ones. */
		same?: RegistryServer,
	) {
		this.adminToken = same?.adminToken ?? `e2e-admin-${randomBytes(16).toString("hex")}`;
		this.signingSecret = same?.signingSecret ?? randomBytes(32).toString("hex");
		this.encryptionKey = same?.encryptionKey ?? randomBytes(32).toString("hex");
		this.registrySigningKey = same?.registrySigningKey ?? newSecret("REGISTRY_SIGNING_KEY");
	}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	/** What `wrangler dev` printed so far (its log, for tests of what gets logged). */
	get output(): string {
		return this.log;
	}

	/** Starts `wrangler dev` on a free port with a fresh --persist-to directory. */
	static async start(vars: Record<string, string> = {}, secretsOf?: RegistryServer): Promise<RegistryServer> {
		const server = new RegistryServer(await freePort(), tempDir("state"), vars, secretsOf);
		await server.boot();
		return server;
	}

	/** Stops and starts `wrangler dev` again on the same port and state. */
	async restart(): Promise<void> {
		await this.stop();
		await this.boot();
	}

	async stop(): Promise<void> {
		const child = this.child;
		if (!child || child.exitCode !== null) return;
		const exited = new Promise((r) => child.once("exit", r));
		if (child.pid) process.kill(-child.pid, "SIGTERM");
		await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
		if (child.exitCode === null && child.pid) process.kill(-child.pid, "SIGKILL");
		this.child = null;
	}

	private async boot(): Promise<void> {
		const secrets = {
			ADMIN_TOKEN: this.adminToken,
			URL_SIGNING_SECRET: this.signingSecret,
			ENCRYPTION_KEY: this.encryptionKey,
			REGISTRY_SIGNING_KEY: this.registrySigningKey,
		};
		const args = [
			join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js"),
			"dev",
			"--config",
			isolatedWranglerConfig(this.configDir, secrets),
			"--ip",
			"127.0.0.1",
			"--port",
			String(this.port),
			"--persist-to",
			this.stateDir,
			"--show-interactive-dev-session=false",
			"--log-level",
			"warn",
			...Object.entries(this.vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
		];
		const child = spawn(join(BIN, "node"), args, {
			cwd: this.configDir,
			env: cleanEnv({ CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" }),
			stdio: ["ignore", "pipe", "pipe"],
			detached: true,
		});
		this.child = child;
		child.stdout?.on("data", (c) => {
			this.log += c;
		});
		child.stderr?.on("data", (c) => {
			this.log += c;
		});
		const deadline = Date.now() + 60_000;
		while (Date.now() < deadline) {
			if (child.exitCode !== null) throw new Error(`wrangler dev exited\n${this.log}`);
			try {
				const res = await fetch(`${this.url}/-/ping`);
				if (res.ok) return;
			} catch {
				// not listening yet
			}
			await new Promise((r) => setTimeout(r, 250));
		}
		throw new Error(`wrangler dev did not start\n${this.log}`);
	}

	/** Calls the admin API with the admin token. */
	async admin<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
		const res = await fetch(`${this.url}${path}`, {
			method,
			headers: { authorization: `Bearer ${this.adminToken}`, "content-type": "application/json" },
			...(body === undefined ? {} : { body: JSON.stringify(body) }),
		});
		if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
		return res.json() as Promise<T>;
	}

	/** A developer token with every permission on the given scopes and packages. */
	async developerToken(subjects: string[], name = "e2e"): Promise<string> {
		const permissions = ["read", "upload", "publish"];
		const grants = subjects.map((s) =>
			s.startsWith("@") && !s.includes("/") ? { scope: s, permissions } : { package: s, permissions },
		);
		const created = await this.admin<{ token: string }>("POST", "/-/admin/tokens", { kind: "developer", name, grants });
		return created.token;
	}
}

/** Writes files (creating folders) under a directory. */
export function writeFiles(dir: string, files: Record<string, string>): void {
	for (const [path, content] of Object.entries(files)) {
		const full = join(dir, path);
		mkdirSync(dirname(full), { recursive: true });
		writeFileSync(full, content);
	}
}

/** An npm project directory whose .npmrc points at the registry with a token. */
export function npmProject(server: RegistryServer, token: string | null, files: Record<string, string>): string {
	const dir = tempDir("project");
	const host = `//127.0.0.1:${server.port}/`;
	writeFiles(dir, {
		".npmrc": [
			`registry=${server.url}/`,
			...(token ? [`${host}:_authToken=${token}`] : []),
			`cache=${join(dir, ".npm-cache")}`,
			"update-notifier=false",
			"fund=false",
			"",
		].join("\n"),
		...files,
	});
	return dir;
}

export function packageJson(manifest: Record<string, unknown>): string {
	return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Headless Chromium as the machine has it (apt's /usr/bin/chromium), offline. */
export function launchChromium(): Promise<Browser> {
	return chromium.launch({
		executablePath: "/usr/bin/chromium",
		args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
	});
}

/** Serves one HTML page on a free loopback port: a web page of another origin than the registry. */
export async function servePage(html: string): Promise<{ server: Server; port: number }> {
	const port = await freePort();
	const server = createHttpServer((_req, res) => {
		res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
		res.end(html);
	});
	await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
	return { server, port };
}
