// A local Verdaccio (the devDependency), for the migration's end-to-end test and bench: its
// config, htpasswd and storage in a folder of the caller's, no uplinks (nothing is asked of the
// internet) unless `uplink` names another local registry (the proxy bench), on a loopback port.
// `npm run migrate` reads from it as from any Verdaccio.

import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");

/**
 * Starts Verdaccio; answers its URL, its storage folder, a publisher's token, its process id and stop().
 * `uplink`: a registry every package is proxied from; `logLevel` "http" logs every request (as JSON).
 */
export async function startVerdaccio({ dir, port, env = process.env, uplink = null, logLevel = "warn" }) {
	const storage = join(dir, "storage");
	mkdirSync(storage, { recursive: true });
	const config = join(dir, "config.yaml");
	writeFileSync(
		config,
		[
			`storage: ${JSON.stringify(storage)}`,
			"auth:",
			"  htpasswd:",
			`    file: ${JSON.stringify(join(dir, "htpasswd"))}`,
			"    max_users: 100",
			...(uplink ? ["uplinks:", "  source:", `    url: ${JSON.stringify(uplink)}`] : ["uplinks: {}"]),
			"packages:",
			...["'@*/*'", "'**'"].flatMap((pattern) => [
				`  ${pattern}:`,
				"    access: $all",
				"    publish: $authenticated",
				"    unpublish: $authenticated",
				...(uplink ? ["    proxy: source"] : []),
			]),
			"server:",
			"  keepAliveTimeout: 60",
			"  rateLimit:",
			"    windowMs: 1000",
			"    max: 100000",
			"web:",
			"  enable: true",
			"  rateLimit:",
			"    windowMs: 1000",
			"    max: 100000",
			"userRateLimit:",
			"  windowMs: 1000",
			"  max: 100000",
			"middlewares:",
			"  audit:",
			"    enabled: false",
			`log: { type: stdout, format: ${logLevel === "http" ? "json" : "pretty"}, level: ${logLevel} }`,
			"publish:",
			"  allow_offline: true",
			"",
		].join("\n"),
	);
	const url = `http://127.0.0.1:${port}`;
	const child = spawn(
		process.execPath,
		[join(root, "node_modules", "verdaccio", "bin", "verdaccio"), "--config", config, "--listen", `127.0.0.1:${port}`],
		{ cwd: dir, env: { ...env, VERDACCIO_STORAGE_PATH: storage }, stdio: ["ignore", "pipe", "pipe"], detached: true },
	);
	let log = "";
	child.stdout.on("data", (c) => {
		log += c;
	});
	child.stderr.on("data", (c) => {
		log += c;
	});
	/** The whole process group; one already gone has nothing left to stop. */
	const signal = (name) => {
		try {
			process.kill(-child.pid, name);
		} catch (error) {
			if (error.code !== "ESRCH") throw error;
		}
	};
	const stop = async () => {
		if (child.exitCode !== null || !child.pid) return;
		const exited = new Promise((r) => child.once("exit", r));
		signal("SIGTERM");
		await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
		if (child.exitCode === null) signal("SIGKILL");
	};
	const deadline = Date.now() + 60_000;
	for (;;) {
		if (child.exitCode !== null) throw new Error(`verdaccio exited\n${log}`);
		if (Date.now() > deadline) {
			await stop();
			throw new Error(`verdaccio did not start\n${log}`);
		}
		try {
			if ((await fetch(`${url}/-/ping`)).ok) break;
		} catch {
			// not listening yet
		}
		await new Promise((r) => setTimeout(r, 250));
	}
	// A user to publish as (Verdaccio's htpasswd adduser, as `npm adduser` does it).
	const created = await fetch(`${url}/-/user/org.couchdb.user:migrator`, {
		method: "PUT",
		headers: { "content-type": "application/json" },
		body: JSON.stringify({ name: "migrator", password: "migrator-password-1", email: "migrator@example.com" }),
	});
	if (!created.ok) {
		await stop();
		throw new Error(`verdaccio adduser: ${created.status} ${await created.text()}`);
	}
	const { token } = await created.json();
	return { url, storage, token, stop, log: () => log, pid: child.pid };
}
