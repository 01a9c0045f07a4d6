import { createVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, npmProject, ok, packageJson, RegistryServer, run, servePage } from "./harness";

// Release safety with real clients (#13): an app installed with npm, whose lockfile's versions
// verify against the registry's keys exactly as `npm audit signatures` checks them (that command
// first asks sigstore's TUF CDN for keys, which this offline machine cannot reach, so the check is
// npm's own code path written out with node:crypto); `npm unpublish` of a version just published; a staged rollout seen by two browsers
// with different client keys, and both back on the channel's version after a revert.

let server: RegistryServer;
let token: string;
let page: Server | null = null;
let browser: Browser | null = null;

type Key = { expires: string | null; keyid: string; key: string };
type Signature = { keyid: string; sig: string };

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
	return fetch(`${server.url}${path}`, {
		method,
		headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
		...(body === undefined ? {} : { body: JSON.stringify(body) }),
	});
}

async function publish(manifest: Record<string, unknown>, files: Record<string, string> = {}): Promise<void> {
	const dir = npmProject(server, token, {
		"package.json": packageJson({ license: "MIT", main: "index.js", ...manifest }),
		"index.js": `export const version = ${JSON.stringify(manifest.version)};\n`,
		...files,
	});
	await ok("npm", ["publish", "--access", "public"], { cwd: dir });
}

/** npm's own check (lib/utils/verify-signatures.js): the PEM of the listed key, SHA256 over the message. */
function verifies(keys: Key[], signature: Signature, message: string): boolean {
	const key = keys.find((k) => k.keyid === signature.keyid);
	if (!key) return false;
	const verifier = createVerify("SHA256");
	verifier.write(message);
	verifier.end();
	return verifier.verify(`-----BEGIN PUBLIC KEY-----\n${key.key}\n-----END PUBLIC KEY-----`, signature.sig, "base64");
}

beforeAll(async () => {
	server = await RegistryServer.start();
	token = await server.developerToken(["@safe"]);
});

afterAll(async () => {
	await browser?.close();
	page?.close();
	await server?.stop();
});

describe("release safety", () => {
	it("signs what an app installs: the lockfile's versions verify against /-/npm/v1/keys as npm verifies them", async () => {
		await publish({ name: "@safe/util", version: "1.0.0" });
		await publish({ name: "@safe/app-lib", version: "2.0.0", dependencies: { "@safe/util": "^1.0.0" } });
		const app = npmProject(server, token, {
			"package.json": packageJson({ name: "app", version: "1.0.0", private: true }),
		});
		await ok("npm", ["install", "@safe/app-lib"], { cwd: app });

		const { keys } = (await (await fetch(`${server.url}/-/npm/v1/keys`)).json()) as { keys: Key[] };
		expect(keys).toHaveLength(1);
		expect(keys[0]?.expires).toBeNull();
		const lock = JSON.parse(readFileSync(join(app, "package-lock.json"), "utf8")) as {
			packages: Record<string, { version?: string; integrity?: string }>;
		};
		const installed = Object.entries(lock.packages).filter(([path]) => path.startsWith("node_modules/"));
		expect(installed.map(([path]) => path).sort()).toEqual(["node_modules/@safe/app-lib", "node_modules/@safe/util"]);
		for (const [path, entry] of installed) {
			const name = path.slice("node_modules/".length);
			const packument = (await (await api("GET", `/${name.replace("/", "%2f")}`)).json()) as {
				versions: Record<string, { dist: { integrity: string; signatures: Signature[] } }>;
				time: Record<string, string>;
			};
			const version = entry.version ?? "";
			const dist = packument.versions[version]?.dist;
			expect(dist?.integrity).toBe(entry.integrity);
			const [signature] = dist?.signatures ?? [];
			const key = keys.find((k) => k.keyid === signature?.keyid);
			expect(key).toBeDefined();
			// npm takes a signature only from a key that had not expired when the version was published.
			expect(key?.expires === null || Date.parse(packument.time[version] ?? "") < Date.parse(key?.expires ?? "")).toBe(
				true,
			);
			const message = `${name}@${version}:${entry.integrity}`;
			expect(verifies(keys, signature as Signature, message)).toBe(true);
			// One byte of the signature flipped, and it no longer verifies.
			const bytes = Buffer.from(signature?.sig ?? "", "base64");
			bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
			expect(verifies(keys, { keyid: signature?.keyid ?? "", sig: bytes.toString("base64") }, message)).toBe(false);
			// Nor does it hold for other bytes than those published.
			expect(verifies(keys, signature as Signature, `${name}@${version}:sha512-${"A".repeat(86)}==`)).toBe(false);
		}
	});

	it("lets npm unpublish a version just published, and refuses the whole package while a loader channel uses it", async () => {
		const cwd = npmProject(server, token, { "package.json": packageJson({ name: "ops", version: "1.0.0" }) });
		await publish({ name: "@safe/oops", version: "1.0.0" });
		await publish({ name: "@safe/oops", version: "1.0.1" });
		// 1.0.1 is latest and minutes old: npm unpublishes it, and latest falls back to 1.0.0.
		await ok("npm", ["unpublish", "@safe/oops@1.0.1"], { cwd });
		const view = JSON.parse((await ok("npm", ["view", "@safe/oops", "--json"], { cwd })).stdout) as {
			versions: string[];
			"dist-tags": Record<string, string>;
		};
		expect(view.versions).toEqual(["1.0.0"]);
		expect(view["dist-tags"].latest).toBe("1.0.0");
		// The number stays taken.
		const again = await run("npm", ["publish", "--access", "public"], {
			cwd: npmProject(server, token, {
				"package.json": packageJson({ name: "@safe/oops", version: "1.0.1", main: "index.js" }),
				"index.js": "export {};\n",
			}),
		});
		expect(again.code).not.toBe(0);
		expect(again.output).toMatch(/1\.0\.1/);

		await ok("npm", ["dist-tag", "add", "@safe/oops@1.0.0", "stable"], { cwd });
		const refused = await run("npm", ["unpublish", "@safe/oops", "--force"], { cwd });
		expect(refused.code).not.toBe(0);
		expect(refused.output).toMatch(/in use through channel "stable"/);
		expect((await api("GET", "/@safe%2foops")).status).toBe(200);
		await ok("npm", ["dist-tag", "rm", "@safe/oops", "stable"], { cwd });
		await ok("npm", ["unpublish", "@safe/oops", "--force"], { cwd });
		expect((await api("GET", "/@safe%2foops")).status).toBe(404);
	});

	it("shows two browsers different versions during a 50% rollout, and both the channel's version after a revert", async () => {
		const widget = "@safe/banner";
		for (const version of ["1.0.0", "2.0.0"]) {
			await publish(
				{ name: widget, version, type: "module", module: "index.js" },
				{
					"index.js": [
						`export const version = ${JSON.stringify(version)};`,
						"customElements.define('safe-banner', class extends HTMLElement {",
						`  connectedCallback() { this.textContent = ${JSON.stringify(`banner ${version}`)}; }`,
						"});",
						"",
					].join("\n"),
				},
			);
		}
		expect((await api("POST", `/packages/${widget}/channels/stable`, { version: "1.0.0" })).status).toBe(201);
		const started = await api("POST", `/packages/${widget}/channels/stable/rollout`, { version: "2.0.0", percent: 50 });
		expect(started.status).toBe(201);

		// Find one client key in each cohort by asking the lookup API as the loader does.
		const cohorts = new Map<string, string>();
		for (let i = 0; i < 64 && cohorts.size < 2; i++) {
			const key = `visitor-${i}`;
			const res = await fetch(`${server.url}/packages/${encodeURIComponent(widget)}/channels/stable`, {
				headers: { "x-client-key": key },
			});
			const { version } = (await res.json()) as { version: string };
			if (!cohorts.has(version)) cohorts.set(version, key);
		}
		expect([...cohorts.keys()].sort()).toEqual(["1.0.0", "2.0.0"]);

		const html = `<!doctype html>
<html>
	<body>
		<safe-banner></safe-banner>
		<pre id="out">loading</pre>
		<script type="module">
			import { load } from "${server.url}/loader.js";
			const out = document.getElementById("out");
			load(${JSON.stringify(widget)}, { channel: "stable" }).then(
				(widget) => { out.textContent = widget.version; },
				(error) => { out.textContent = "error: " + error.message; },
			);
		</script>
	</body>
</html>`;
		const served = await servePage(html);
		page = served.server;
		const pagePort = served.port;
		browser = await launchChromium();

		const tabs = [];
		for (const version of ["1.0.0", "2.0.0"]) {
			const context = await browser.newContext();
			// The loader keeps its client key in the page origin's localStorage: give each browser one.
			await context.addInitScript(
				([key]) => localStorage.setItem("registry-client-key", key as string),
				[cohorts.get(version)],
			);
			const tab = await context.newPage();
			await tab.goto(`http://localhost:${pagePort}/`);
			await tab.waitForFunction(() => document.getElementById("out")?.textContent !== "loading");
			tabs.push({ version, tab });
		}
		for (const { version, tab } of tabs) {
			expect(await tab.textContent("#out")).toBe(version);
			expect(await tab.textContent("safe-banner")).toBe(`banner ${version}`);
		}

		const reverted = await api("POST", `/packages/${widget}/channels/stable/rollout/revert`);
		expect(reverted.status).toBe(200);
		for (const { tab } of tabs) {
			await tab.reload();
			await tab.waitForFunction(() => document.getElementById("out")?.textContent !== "loading");
			expect(await tab.textContent("#out")).toBe("1.0.0");
		}
	});
});
