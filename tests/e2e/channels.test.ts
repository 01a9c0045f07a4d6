import type { Server } from "node:http";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, npmProject, ok, packageJson, RegistryServer, servePage } from "./harness";

// Release channels end to end: versions published with the real npm CLI, `stable` moved by the
// channel API and by `npm dist-tag`, rolled back; then a page on another origin loads the widget
// through /loader.js in a real headless Chromium and follows a rollback at its next load.

let server: RegistryServer;
let devToken: string;
let customerKey: string;
let page: Server | null = null;
let browser: Browser | null = null;

const widget = "@acc/widget";

function widgetSource(version: string): string {
	return [
		`export const version = ${JSON.stringify(version)};`,
		"export const styles = new URL('./styles.css', import.meta.url).href;",
		"class AccWidget extends HTMLElement {",
		"  connectedCallback() { this.textContent = 'widget ' + version; }",
		"}",
		"customElements.define('acc-widget', AccWidget);",
		"",
	].join("\n");
}

async function api(method: string, path: string, body?: unknown, token = devToken): Promise<Response> {
	return fetch(`${server.url}${path}`, {
		method,
		headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
		...(body === undefined ? {} : { body: JSON.stringify(body) }),
	});
}

beforeAll(async () => {
	server = await RegistryServer.start();
	devToken = await server.developerToken(["@acc"]);
	const created = await server.admin<{ token: string }>("POST", "/-/admin/tokens", {
		kind: "customer",
		name: "shop",
		grants: [{ package: widget, permissions: ["read"] }],
	});
	customerKey = created.token;
	for (const version of ["1.0.0", "1.1.0", "1.2.0"]) {
		const dir = npmProject(server, devToken, {
			"package.json": packageJson({ name: widget, version, type: "module", module: "index.js" }),
			"index.js": widgetSource(version),
			"styles.css": `acc-widget::after { content: "${version}"; }\n`,
		});
		await ok("npm", ["publish"], { cwd: dir });
	}
});

afterAll(async () => {
	await browser?.close();
	page?.close();
	await server?.stop();
});

describe("channels", () => {
	it("moves stable with the API and npm dist-tag, rolls back, and serves the files with their headers", async () => {
		expect((await api("POST", `/packages/${widget}/channels/stable`, { version: "1.0.0" })).status).toBe(201);
		const cwd = npmProject(server, devToken, { "package.json": packageJson({ name: "ops", version: "1.0.0" }) });
		await ok("npm", ["dist-tag", "add", `${widget}@1.1.0`, "stable"], { cwd });
		expect((await api("POST", `/packages/${widget}/channels/stable`, { version: "1.2.0" })).status).toBe(201);

		const history = (await (await api("GET", `/packages/${widget}/channels/stable/history`)).json()) as {
			history: { version: string; current: boolean }[];
		};
		expect(history.history.map((h) => h.version)).toEqual(["1.2.0", "1.1.0", "1.0.0"]);

		const rolled = await api("POST", `/packages/${widget}/channels/stable/rollback`);
		expect(((await rolled.json()) as { version: string }).version).toBe("1.1.0");
		expect((await ok("npm", ["dist-tag", "ls", widget], { cwd })).stdout).toContain("stable: 1.1.0");

		const lookup = await fetch(`${server.url}/packages/${encodeURIComponent(widget)}/channels/stable`, {
			headers: { authorization: `Bearer ${customerKey}` },
		});
		expect(lookup.status).toBe(200);
		expect(lookup.headers.get("cache-control")).toBe("private, no-cache");
		const state = (await lookup.json()) as { version: string; index: string; baseUri: string; integrity: string };
		expect(state.version).toBe("1.1.0");
		expect(state.index).toBe(`${state.baseUri}/index.js`);

		const entry = await fetch(state.index);
		expect(entry.status).toBe(200);
		expect(entry.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
		expect(entry.headers.get("access-control-allow-origin")).toBe("*");
		expect(entry.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
		expect(entry.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
		expect(await entry.text()).toBe(widgetSource("1.1.0"));
		const css = await fetch(`${state.baseUri}/styles.css`);
		expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
		// Without the capability in the path, the restricted package's files do not exist.
		expect((await fetch(`${server.url}/files/${widget}@1.1.0/index.js`)).status).toBe(404);

		// Put stable back on 1.2.0 for the browser.
		expect((await api("POST", `/packages/${widget}/channels/stable`, { version: "1.2.0" })).status).toBe(201);
	});

	it("loads the widget in Chromium from another origin through /loader.js and follows a rollback on reload", async () => {
		const html = `<!doctype html>
<html>
	<body>
		<acc-widget></acc-widget>
		<pre id="out">loading</pre>
		<script type="module">
			import { load } from "${server.url}/loader.js";
			const out = document.getElementById("out");
			try {
				const widget = await load(${JSON.stringify(widget)}, { channel: "stable", key: ${JSON.stringify(customerKey)} });
				const css = await fetch(widget.styles);
				out.textContent = widget.version + " " + css.status;
			} catch (error) {
				out.textContent = "error: " + error.message;
			}
		</script>
	</body>
</html>`;
		const served = await servePage(html);
		page = served.server;
		const pagePort = served.port;

		browser = await launchChromium();
		const tab = await browser.newPage();
		const errors: string[] = [];
		tab.on("pageerror", (e) => errors.push(e.message));
		await tab.goto(`http://localhost:${pagePort}/`);
		await tab.waitForFunction(() => document.getElementById("out")?.textContent !== "loading");
		expect(await tab.textContent("#out")).toBe("1.2.0 200");
		expect(await tab.textContent("acc-widget")).toBe("widget 1.2.0");
		// The loader pinned the entry's sha384 in an import map, which this browser enforces:
		const pinned = await tab.evaluate(() => document.querySelector('script[type="importmap"]')?.textContent ?? "");
		expect(pinned).toMatch(/"integrity":\{"http:\/\/127\.0\.0\.1:\d+\/files\/~[^"]+\/index\.js":"sha384-/);
		const current = (await (await api("GET", `/packages/${widget}/channels/stable`)).json()) as { index: string };
		// A string, so that the test runner does not rewrite the page's import().
		const tampered = await tab.evaluate(`(async (url) => {
			const map = document.createElement("script");
			map.type = "importmap";
			map.textContent = JSON.stringify({ integrity: { [url]: "sha384-AAAA" } });
			document.head.append(map);
			return import(url).then(() => "imported", (e) => "refused: " + e.message);
		})(${JSON.stringify(`${current.index}?tampered`)})`);
		expect(tampered).toMatch(/^refused/);

		const rolled = await api("POST", `/packages/${widget}/channels/stable/rollback`);
		expect(((await rolled.json()) as { version: string }).version).toBe("1.1.0");
		await tab.reload();
		await tab.waitForFunction(() => document.getElementById("out")?.textContent !== "loading");
		expect(await tab.textContent("#out")).toBe("1.1.0 200");
		expect(await tab.textContent("acc-widget")).toBe("widget 1.1.0");
		expect(errors).toEqual([]);
	});
});
