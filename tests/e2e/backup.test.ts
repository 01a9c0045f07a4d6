import { statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Progress } from "../../scripts/migrate.mjs";
import { exportToArchive, restoreFromArchive } from "../../scripts/migrate-archive.mjs";
import { npmProject, ok, packageJson, RegistryServer, ROOT, tempDir } from "./harness";

// Issue #18 end to end: a registry with published packages (channels with history, a restricted
// package, a reader's token, a package hook) exported into an archive with scripts/migrate-archive.mjs, restored
// into a fresh instance with the same secrets, and compared: packuments, channel histories, the
// token's access, and an npm install of byte-identical tarballs.

let source: RegistryServer;
let target: RegistryServer | null = null;
let fromBackup: RegistryServer | null = null;

beforeAll(async () => {
	source = await RegistryServer.start();
});

afterAll(async () => {
	await source?.stop();
	await target?.stop();
	await fromBackup?.stop();
});

function publishDir(server: RegistryServer, token: string, name: string, version: string): string {
	return npmProject(server, token, {
		"package.json": packageJson({ name, version, main: "index.js", description: `${name} at ${version}` }),
		"index.js": `module.exports = ${JSON.stringify(`${name}@${version}`)};\n`,
	});
}

async function get(server: RegistryServer, path: string, token: string | null = server.adminToken) {
	return fetch(`${server.url}${path}`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });
}

/** A packument with this instance's base URL taken out of its tarball URLs. */
async function packumentOf(server: RegistryServer, name: string): Promise<Record<string, unknown>> {
	const res = await get(server, `/${name.replace("/", "%2f")}`);
	expect(res.status).toBe(200);
	return JSON.parse((await res.text()).replaceAll(server.url, "<base>"));
}

async function historyOf(server: RegistryServer, name: string, channel: string): Promise<unknown> {
	const res = await get(server, `/packages/${name}/channels/${channel}/history`);
	expect(res.status).toBe(200);
	return res.json();
}

/** Waits until the export names every package (the search index hears of publishes after they commit). */
async function exportable(server: RegistryServer, names: string[], scope = "@acme"): Promise<void> {
	const deadline = Date.now() + 30_000;
	for (;;) {
		const page = await server.admin<{ items: { kind: string; name?: string }[] }>(
			"GET",
			`/-/admin/export?scope=${scope}`,
		);
		const heads = page.items.filter((i) => i.kind === "package").map((i) => i.name);
		if (names.every((n) => heads.includes(n))) return;
		if (Date.now() > deadline) throw new Error(`the export names ${heads.join(", ")} only`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

describe("export and restore with the archive (#18)", () => {
	it("restores into a fresh instance with the same secrets: packuments, histories, a token's access and npm install identical", async () => {
		const publisher = await source.developerToken(["@acme"]);
		await ok("npm", ["publish", "--access", "public"], { cwd: publishDir(source, publisher, "@acme/widget", "1.0.0") });
		await ok("npm", ["publish", "--access", "public"], { cwd: publishDir(source, publisher, "@acme/widget", "1.1.0") });
		await ok("npm", ["publish"], { cwd: publishDir(source, publisher, "@acme/secret", "2.0.0") });
		for (const version of ["1.0.0", "1.1.0"]) {
			await source.admin("POST", "/packages/@acme/widget/channels/stable", { version });
		}
		await source.admin("POST", "/packages/@acme/widget/channels/stable/rollback");
		const reader = await source.admin<{ token: string }>("POST", "/-/admin/tokens", {
			kind: "customer",
			name: "reader",
			grants: [{ scope: "@acme", permissions: ["read"] }],
		});
		// A package hook (DESIGN invariant 13), on a name nothing is published to, so no delivery is tried.
		const hook = await fetch(`${source.url}/-/npm/v1/hooks/hook`, {
			method: "POST",
			headers: { authorization: `Bearer ${publisher}`, "content-type": "application/json" },
			body: JSON.stringify({
				type: "package",
				name: "@acme/quiet",
				endpoint: "https://hooks.example/acme",
				secret: "e2e-hook-secret",
			}),
		});
		expect(hook.status).toBe(201);
		await exportable(source, ["@acme/secret", "@acme/widget"]);

		const file = join(tempDir("archive"), "registry.tar");
		const progress = { packages: 0, versions: 0, bytes: 0 };
		// The bar on a terminal: with the totals the export gives, it says how long is left.
		const terminal = { isTTY: true, written: [] as string[], write: (t: string) => terminal.written.push(t) };
		const bar = new Progress(terminal);
		const exported = await exportToArchive({
			from: source.url,
			fromToken: source.adminToken,
			file,
			onProgress: (p) => {
				progress.packages += p.packages;
				progress.versions += p.versions;
				progress.bytes += p.bytes;
				bar.add(p);
				if (p.versions > 0) bar.draw();
			},
		});
		bar.stop();
		expect(exported.failed).toEqual([]);
		expect(progress.packages).toBe(2);
		expect(progress.versions).toBe(3);
		expect(statSync(file).size).toBeGreaterThan(progress.bytes);
		const drawn = terminal.written.join("");
		expect(drawn).toMatch(/packages 1\/2 · versions 1\/3 · .* \d+ s left/);
		expect(drawn).toContain("packages 2/2 · versions 3/3");

		target = await RegistryServer.start({}, source);
		const totals: { totalPackages?: number; totalVersions?: number } = {};
		const restored = await restoreFromArchive({
			file,
			to: target.url,
			toToken: target.adminToken,
			onProgress: (p) => {
				if (p.totalPackages !== undefined) Object.assign(totals, p);
			},
		});
		expect(restored).toEqual({ copied: 3, present: 0, failed: [] });
		expect(totals).toMatchObject({ totalPackages: 2, totalVersions: 3 });

		for (const name of ["@acme/widget", "@acme/secret"]) {
			expect(await packumentOf(target, name)).toEqual(await packumentOf(source, name));
		}
		for (const channel of ["stable", "latest"]) {
			expect(await historyOf(target, "@acme/widget", channel)).toEqual(
				await historyOf(source, "@acme/widget", channel),
			);
		}
		// `npm hook ls` reads the same (the admin's: every hook), the secret sealed on the way.
		expect(await target.admin("GET", "/-/npm/v1/hooks")).toEqual(await source.admin("GET", "/-/npm/v1/hooks"));
		expect((await target.admin<{ total: number }>("GET", "/-/npm/v1/hooks")).total).toBe(1);
		// Restricted stays restricted; the reader's token, made before the export, still reads it.
		expect((await get(target, "/@acme%2fsecret", null)).status).toBe(404);
		expect((await get(target, "/@acme%2fsecret", reader.token)).status).toBe(200);

		const app = npmProject(target, reader.token, {
			"package.json": packageJson({
				name: "app",
				version: "1.0.0",
				dependencies: { "@acme/widget": "1.1.0", "@acme/secret": "^2.0.0" },
			}),
		});
		await ok("npm", ["install"], { cwd: app });
		const required = await ok("node", ["-p", "require('@acme/widget') + ' ' + require('@acme/secret')"], { cwd: app });
		expect(required.stdout.trim()).toBe("@acme/widget@1.1.0 @acme/secret@2.0.0");
		const widget = (await packumentOf(source, "@acme/widget")) as {
			versions: Record<string, { dist: { integrity: string } }>;
		};
		const lock = await ok(
			"node",
			["-p", "require('./package-lock.json').packages['node_modules/@acme/widget'].integrity"],
			{
				cwd: app,
			},
		);
		expect(lock.stdout.trim()).toBe(widget.versions["1.1.0"]?.dist.integrity);

		// Again, as an operator runs it (`npm run migrate -- --from-archive`): everything is present,
		// nothing is copied twice.
		const again = await ok(
			"npm",
			["run", "--silent", "migrate", "--", "--from-archive", file, "--to", target.url, "--to-token", target.adminToken],
			{ cwd: ROOT },
		);
		expect(again.stdout).toContain("copied 0, already present 3, failed 0");

		// Restored into an instance that is not fresh: what it lacks comes, what it has stays.
		await ok("npm", ["publish", "--access", "public"], { cwd: publishDir(source, publisher, "@acme/widget", "1.2.0") });
		await source.admin("POST", "/packages/@acme/widget/channels/beta", { version: "1.2.0" });
		const newer = join(tempDir("archive"), "newer.tar");
		expect((await exportToArchive({ from: source.url, fromToken: source.adminToken, file: newer })).failed).toEqual([]);
		const merged = await restoreFromArchive({ file: newer, to: target.url, toToken: target.adminToken });
		expect(merged).toEqual({ copied: 1, present: 3, failed: [] });
		const widgetHere = (await packumentOf(target, "@acme/widget")) as { "dist-tags": Record<string, string> };
		expect(Object.keys((widgetHere as unknown as { versions: object }).versions).sort()).toEqual([
			"1.0.0",
			"1.1.0",
			"1.2.0",
		]);
		// The channel it lacked came; the one it had (latest) keeps its history here.
		expect(widgetHere["dist-tags"]).toEqual({ latest: "1.1.0", stable: "1.0.0", beta: "1.2.0" });
		const tarball = "/@acme/widget/-/widget-1.2.0.tgz";
		const [a, b] = await Promise.all([get(source, tarball), get(target, tarball)]);
		expect(Buffer.from(await b.arrayBuffer())).toEqual(Buffer.from(await a.arrayBuffer()));
	});

	it("takes a backup on demand, lists it, and downloads it as the same archive, which restores", async () => {
		const publisher = await source.developerToken(["@kept"]);
		await ok("npm", ["publish", "--access", "public"], { cwd: publishDir(source, publisher, "@kept/lib", "3.0.0") });
		await exportable(source, ["@kept/lib"], "@kept");
		const { backup } = await source.admin<{ backup: { id: string } }>("POST", "/-/admin/backups");
		const deadline = Date.now() + 60_000;
		let listed: { id: string; state: string; packages: number; bytes: number } | undefined;
		while (listed?.state !== "done") {
			if (Date.now() > deadline) throw new Error(`backup ${backup.id} did not finish: ${JSON.stringify(listed)}`);
			await new Promise((r) => setTimeout(r, 250));
			const { backups } = await source.admin<{ backups: (typeof listed & {})[] }>("GET", "/-/admin/backups");
			listed = backups.find((b) => b.id === backup.id);
		}
		expect(listed.packages).toBeGreaterThanOrEqual(1);
		expect(listed.bytes).toBeGreaterThan(0);

		const file = join(tempDir("archive"), "backup.tar");
		// Through the one command, as README says: npm run migrate hands --backup/--to-archive on.
		const exported = await ok(
			"npm",
			[
				"run",
				"--silent",
				"migrate",
				"--",
				"--from",
				source.url,
				"--from-token",
				source.adminToken,
				"--backup",
				backup.id,
				"--to-archive",
				file,
			],
			{ cwd: ROOT },
		);
		expect(exported.stdout).toMatch(/copied \d+, already present 0, failed 0/);
		fromBackup = await RegistryServer.start({}, source);
		const restored = await restoreFromArchive({ file, to: fromBackup.url, toToken: fromBackup.adminToken });
		expect(restored.failed).toEqual([]);
		expect(await packumentOf(fromBackup, "@kept/lib")).toEqual(await packumentOf(source, "@kept/lib"));
		const tarball = "/@kept/lib/-/lib-3.0.0.tgz";
		const [a, b] = await Promise.all([get(source, tarball), get(fromBackup, tarball)]);
		expect(Buffer.from(await b.arrayBuffer())).toEqual(Buffer.from(await a.arrayBuffer()));
	});
});
