import { createHash, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npmProject, ok, packageJson, RegistryServer } from "./harness";

// #14: a package of tens of megabytes goes through `npm publish` (the body streams to R2, never
// held whole) and comes back out through npm and pnpm byte for byte, on the default limits.
// #25: packuments too long for the package object to join come to npm as streams.

let server: RegistryServer;

beforeAll(async () => {
	server = await RegistryServer.start();
});

afterAll(async () => {
	await server?.stop();
});

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const minutes = 60_000;

describe("large packages", () => {
	it("publishes a 60 MB package with npm and installs it with npm and pnpm, byte for byte", async () => {
		const name = "e2e-large";
		const token = await server.developerToken([name]);
		// Incompressible: the tarball, and so the publish body, is as large as the file (80 MB of base64).
		const blob = randomBytes(60 * 1024 * 1024);
		const pkg = npmProject(server, token, {
			"package.json": packageJson({ name, version: "1.0.0", main: "index.js", license: "MIT" }),
			"index.js": "module.exports = require('node:fs').readFileSync(__dirname + '/blob.bin');\n",
		});
		writeFileSync(join(pkg, "blob.bin"), blob);
		const published = await ok("npm", ["publish", "--access", "public"], { cwd: pkg, timeoutMs: 2 * minutes });
		expect(published.output).toContain(`+ ${name}@1.0.0`);
		const view = JSON.parse((await ok("npm", ["view", name, "dist", "--json"], { cwd: pkg })).stdout) as {
			integrity: string;
			unpackedSize: number;
		};
		expect(view.unpackedSize).toBeGreaterThan(blob.byteLength);

		const app = { name: "large-app", version: "1.0.0", private: true, dependencies: { [name]: "1.0.0" } };
		const withNpm = npmProject(server, null, { "package.json": packageJson(app) });
		await ok("npm", ["install", "--no-audit"], { cwd: withNpm, timeoutMs: 2 * minutes });
		expect(sha256(readFileSync(join(withNpm, "node_modules", name, "blob.bin")))).toBe(sha256(blob));
		const lock = JSON.parse(readFileSync(join(withNpm, "package-lock.json"), "utf8"));
		expect(lock.packages[`node_modules/${name}`].integrity).toBe(view.integrity);

		const withPnpm = npmProject(server, null, { "package.json": packageJson(app) });
		await ok("pnpm", ["install", "--store-dir", join(withPnpm, ".pnpm-store"), "--reporter", "append-only"], {
			cwd: withPnpm,
			timeoutMs: 2 * minutes,
		});
		expect(sha256(readFileSync(join(withPnpm, "node_modules", name, "blob.bin")))).toBe(sha256(blob));
	});

	it("streams packuments over 2 M characters to npm: npm view reads the full form, npm install the abbreviated", async () => {
		const name = "e2e-many-fields";
		const token = await server.developerToken([name]);
		// devDependencies are in both forms; an install of the package never installs them.
		const devDependencies = Object.fromEntries(
			Array.from({ length: 15_000 }, (_, i) => [`e2e-dev-dependency-${i}-${"x".repeat(12)}`, "^1.0.0"]),
		);
		const versions = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4"];
		for (const version of versions) {
			const pkg = npmProject(server, token, {
				"package.json": packageJson({ name, version, main: "index.js", license: "MIT", devDependencies }),
				"index.js": `module.exports = ${JSON.stringify(version)};\n`,
			});
			await ok("npm", ["publish", "--access", "public"], { cwd: pkg, timeoutMs: 2 * minutes });
		}
		// Longer than the object joins: written as it is read, so no length is known up front.
		for (const accept of ["application/json", "application/vnd.npm.install-v1+json"]) {
			const res = await fetch(`${server.url}/${name}`, { headers: { accept } });
			expect(res.status).toBe(200);
			expect(res.headers.get("content-length")).toBeNull();
			expect((await res.text()).length).toBeGreaterThan(2 * 1024 * 1024);
		}

		const app = { name: "many-fields-app", version: "1.0.0", private: true, dependencies: { [name]: "^1.0.0" } };
		const project = npmProject(server, null, { "package.json": packageJson(app) });
		const view = JSON.parse((await ok("npm", ["view", name, "versions", "--json"], { cwd: project })).stdout);
		expect(view).toEqual(versions);
		await ok("npm", ["install", "--no-audit"], { cwd: project, timeoutMs: 2 * minutes });
		expect(JSON.parse(readFileSync(join(project, "node_modules", name, "package.json"), "utf8")).version).toBe("1.0.4");
	});
});
