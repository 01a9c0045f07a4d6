import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

// pnpm, yarn 4 and bun for the end-to-end tests (the vitest globalSetup of tests/e2e). They are not
// devDependencies: npm leaves pnpm's per-platform packages out of the lockfile, and `npm ci` then
// refuses it. They are installed from the npm registry at these exact versions into a folder of
// their own outside the working tree, named by the versions, and reused by every later run; the
// harness puts its bin folder first on the PATH.

export const CLIENTS = { pnpm: "12.21.0", "@yarnpkg/cli-dist": "4.18.1", bun: "1.4.5" } as const;

/** Each client's command and the version it must report. */
const COMMANDS = [
	["pnpm", CLIENTS.pnpm],
	["yarn", CLIENTS["@yarnpkg/cli-dist"]],
	["bun", CLIENTS.bun],
] as const;

const key = createHash("sha256")
	.update(JSON.stringify([CLIENTS, process.platform, process.arch]))
	.digest("hex")
	.slice(0, 12);
export const CLIENTS_DIR = join(tmpdir(), `registry-e2e-clients-${key}`);
export const CLIENTS_BIN = join(CLIENTS_DIR, "node_modules", ".bin");

const exec = promisify(execFile);

/**
 * The environment without the npm_* variables `npm test` passes down to its scripts (they describe
 * this project, not the clients' folder), but with the settings that say how to reach the registry.
 */
function env(bin?: string): NodeJS.ProcessEnv {
	const reach = /^npm_config_(registry|cache|cafile|ca|proxy|https_proxy|noproxy|strict_ssl)$/i;
	const clean = Object.fromEntries(
		Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) || reach.test(name)),
	);
	return bin ? { ...clean, PATH: `${bin}:${process.env.PATH ?? ""}` } : clean;
}

/** Why the clients in `dir` are not usable, or null when each reports its pinned version. */
async function problem(dir: string): Promise<string | null> {
	const bin = join(dir, "node_modules", ".bin");
	const reports = await Promise.all(
		COMMANDS.map(async ([command, version]) => {
			if (!existsSync(join(bin, command))) return `${command} is missing`;
			try {
				const { stdout } = await exec(join(bin, command), ["--version"], { cwd: dir, env: env(bin), timeout: 30_000 });
				return stdout.trim() === version ? null : `${command} --version: ${stdout.trim()}, expected ${version}`;
			} catch (error) {
				return `${command} --version failed: ${String(error)}`;
			}
		}),
	);
	return reports.filter((report) => report !== null).join("\n") || null;
}

export async function setup(): Promise<void> {
	if (existsSync(CLIENTS_DIR) && (await problem(CLIENTS_DIR)) === null) return;
	const list = COMMANDS.map(([command, version]) => `${command} ${version}`).join(", ");
	console.log(`installing the e2e test clients (${list}) into ${CLIENTS_DIR}`);
	// Installed beside the final folder and renamed into place when they work, so that an
	// interrupted install or a second test run at the same time never sees a half-installed folder.
	const staging = `${CLIENTS_DIR}.${process.pid}-${randomBytes(4).toString("hex")}`;
	try {
		mkdirSync(staging);
		const manifest = {
			name: "registry-e2e-clients",
			private: true,
			dependencies: CLIENTS,
			// bun and pnpm put their native binary in place from install scripts.
			allowScripts: { bun: true, pnpm: true },
		};
		writeFileSync(join(staging, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
		// Without their install scripts bun and pnpm have no binary, whatever the user's npm config says.
		const args = ["install", "--no-package-lock", "--ignore-scripts=false", "--no-audit", "--no-fund"];
		try {
			await exec("npm", [...args, "--loglevel=error"], { cwd: staging, env: env(), timeout: 600_000 });
		} catch (error) {
			const { stdout, stderr } = error as { stdout?: string; stderr?: string };
			throw new Error(`npm ${args.join(" ")} failed in ${staging}\n${stdout ?? ""}${stderr ?? String(error)}`);
		}
		const failed = await problem(staging);
		if (failed) throw new Error(`the e2e test clients installed in ${staging} do not work:\n${failed}`);
		try {
			renameSync(staging, CLIENTS_DIR);
			return;
		} catch (error) {
			if (!["EEXIST", "ENOTEMPTY"].includes((error as NodeJS.ErrnoException).code ?? "")) throw error;
		}
		// A folder is there: another run's that finished first (use it), or a broken one (replace it).
		if ((await problem(CLIENTS_DIR)) === null) return;
		rmSync(CLIENTS_DIR, { recursive: true, force: true });
		renameSync(staging, CLIENTS_DIR);
	} finally {
		rmSync(staging, { recursive: true, force: true });
	}
}
