import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, npmProject, ok, packageJson, RegistryServer, tempDir, writeFiles } from "./harness";

// The pages for people in a real headless Chromium against `wrangler dev`: search for a package,
// open it, read its README and chart, sign in with a token, roll a channel back from the page and
// see the channel API follow. The README carries script payloads; none of them may run.

let server: RegistryServer;
let devToken: string;
let browser: Browser | null = null;

const widget = "@web/widget";
/** A package whose files are hostile text and images, for the file pages (#24.9). */
const filesPackage = "@web/files";
const HOSTILE_HTML = [
	"<!doctype html>",
	"</code></pre><script>window.__pwned = 'file script'</script>",
	'<img src="x" onerror="window.__pwned = \'file onerror\'">',
	"const role = 'user'; \u202E// admin only\u2066 \u2069",
	"",
].join("\n");
/** A 1×1 PNG. */
const PNG_BASE64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const SVG =
	'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="20"><script>window.top.__pwned = "svg"</script><rect width="10" height="20"/></svg>\n';

const README = [
	"# Web widget",
	"",
	"A widget for **pages**.",
	"",
	"<script>window.__pwned = 'script'</script>",
	'<img src="x" onerror="window.__pwned = \'onerror\'">',
	"[click me](javascript:window.__pwned='link')",
	"<svg><script>window.__pwned = 'svg'</script></svg>",
	"<!-- --!><script>window.__pwned = 'comment'</script> -->",
	"<iframe srcdoc=\"<script>parent.__pwned = 'iframe'</script>\"></iframe>",
	"",
].join("\n");

async function api(method: string, path: string, body?: unknown): Promise<Response> {
	return fetch(`${server.url}${path}`, {
		method,
		headers: { authorization: `Bearer ${devToken}`, "content-type": "application/json" },
		...(body === undefined ? {} : { body: JSON.stringify(body) }),
	});
}

beforeAll(async () => {
	server = await RegistryServer.start();
	devToken = await server.developerToken(["@web"]);
	for (const version of ["1.0.0", "1.1.0"]) {
		const dir = npmProject(server, devToken, {
			"package.json": packageJson({
				name: widget,
				version,
				description: "a web widget for the browser test",
				keywords: ["browsertest"],
				license: "MIT",
			}),
			"index.js": `export const version = ${JSON.stringify(version)};\n`,
			"README.md": README,
		});
		await ok("npm", ["publish", "--access", "public"], { cwd: dir });
		expect((await api("POST", `/packages/${widget}/channels/stable`, { version })).status).toBe(201);
	}
	const files = npmProject(server, devToken, {
		"package.json": packageJson({ name: filesPackage, version: "1.0.0", license: "MIT" }),
		"index.js": "export const files = true;\n",
		"hostile.html": HOSTILE_HTML,
		"icon.svg": SVG,
	});
	writeFileSync(join(files, "logo.png"), Buffer.from(PNG_BASE64, "base64"));
	await ok("npm", ["publish", "--access", "public"], { cwd: files });
	// A long deprecation message: the versions table's widest column on a phone (#24.9).
	await ok("npm", ["deprecate", `${widget}@1.0.0`, "superseded by 1.1.0, which fixes the layout of long messages"], {
		cwd: files,
	});
	// The index hears of each publish from the package's alarm, at once.
	for (let i = 0; i < 60; i++) {
		const found = (await (await fetch(`${server.url}/-/v1/search?text=browsertest`)).json()) as { total: number };
		if (found.total > 0) break;
		await new Promise((r) => setTimeout(r, 250));
	}
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

describe("the web interface in Chromium", () => {
	it("searches, opens a package, signs in and rolls a channel back; README scripts never run", async () => {
		browser = await launchChromium();
		const tab = await browser.newPage();
		const problems: string[] = [];
		tab.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
		tab.on("console", (m) => {
			if (m.type() === "error" && !m.text().startsWith("Failed to load resource"))
				problems.push(`console: ${m.text()}`);
		});
		// Every load must succeed but the README's broken image (its relative src is the version's file "x").
		tab.on("response", (r) => {
			if (r.status() >= 400 && !r.url().endsWith("/x")) problems.push(`${r.status()} ${r.url()}`);
		});

		await tab.goto(`${server.url}/`);
		await tab.fill("#home-search", "browsertest");
		await Promise.all([tab.waitForURL(/\/search\?q=browsertest/), tab.press("#home-search", "Enter")]);
		expect(await tab.textContent("#results-title")).toContain("1 package");

		await Promise.all([tab.waitForURL(/\/package\/@web\/widget$/), tab.click(`a[href="/package/${widget}"]`)]);
		expect(await tab.textContent(".readme h1")).toBe("Web widget");
		expect(await tab.isVisible("figure.chart svg")).toBe(true);
		// The site's own script ran (it shows the copy buttons); the README's did not.
		expect(await tab.isVisible("button.copy")).toBe(true);
		expect(await tab.evaluate("typeof window.__pwned")).toBe("undefined");
		expect(await tab.locator(".readme script, .readme iframe, .readme svg").count()).toBe(0);
		// The javascript: link is no link; clicking its text changes nothing.
		await tab.click("text=click me");
		expect(await tab.evaluate("typeof window.__pwned")).toBe("undefined");
		expect(await tab.textContent("#channels")).toContain("1.1.0");

		await Promise.all([tab.waitForURL(/\/-\/signin/), tab.click("text=Sign in")]);
		await tab.fill("#token", devToken);
		await Promise.all([
			tab.waitForURL(/\/package\/@web\/widget$/),
			tab.click('form:has(#token) button[type="submit"]'),
		]);
		expect(await tab.textContent(".account")).toContain("Signed in as");
		const cookies = await tab.context().cookies();
		const session = cookies.find((c) => c.name === "registry-session");
		expect(session?.httpOnly).toBe(true);
		expect(session?.sameSite).toBe("Strict");
		expect(session?.value).not.toContain(devToken.slice(4));

		// Moving stable asks first (#24.4); the page it comes back to says what was done.
		const asked: string[] = [];
		tab.once("dialog", async (dialog) => {
			asked.push(dialog.message());
			await dialog.accept();
		});
		await Promise.all([
			tab.waitForURL(/\/package\/@web\/widget#channel-stable$/),
			tab.click("text=Roll stable back one step"),
		]);
		expect(asked).toEqual(["Pages loading stable get the change at their next load. Roll stable back one step?"]);
		expect(await tab.textContent('p.done[role="status"]')).toBe("stable rolled back to 1.0.0");
		const lookup = (await (await fetch(`${server.url}/packages/${widget}/channels/stable`)).json()) as {
			version: string;
		};
		expect(lookup.version).toBe("1.0.0");
		expect(await tab.textContent("#channel-stable")).toContain("1.0.0");
		expect(await tab.evaluate("typeof window.__pwned")).toBe("undefined");
		expect(problems).toEqual([]);
	});
});

describe("install lines copied from the page (#24.2)", () => {
	it("installs with npm and with yarn 4 on this plain-http registry from what the page says, and shows the loader", async () => {
		browser ??= await launchChromium();
		const tab = await browser.newPage();
		await tab.goto(`${server.url}/package/${widget}`);
		const copied = async (role: string) => {
			const block = tab.locator(`pre[data-lines="${role}"]`);
			// One block, shown whole: its lines are the file's lines (nothing wraps inside a flag).
			expect(await block.evaluate((el) => getComputedStyle(el).whiteSpace)).toBe("pre");
			return (await block.textContent()) ?? "";
		};
		const npmSetup = await copied("npm-setup");
		expect(npmSetup).toBe(`@web:registry=${server.url}/`);
		const npmInstall = (await copied("npm-install")).split(" ");
		expect(npmInstall).toEqual(["npm", "install", widget]);

		const npmApp = tempDir("copied-npm");
		writeFiles(npmApp, { "package.json": packageJson({ name: "app", version: "1.0.0" }), ".npmrc": `${npmSetup}\n` });
		await ok(npmInstall[0] ?? "npm", npmInstall.slice(1), { cwd: npmApp });
		expect(JSON.parse(readFileSync(join(npmApp, "node_modules/@web/widget/package.json"), "utf8")).name).toBe(widget);

		const yarnSetup = await copied("yarn-setup");
		expect(yarnSetup).toContain(`unsafeHttpWhitelist: ["127.0.0.1"]`);
		const yarnInstall = (await copied("yarn-install")).split(" ");
		const yarnApp = tempDir("copied-yarn");
		writeFiles(yarnApp, {
			"package.json": packageJson({ name: "app", version: "1.0.0" }),
			".yarnrc.yml": `${yarnSetup}\nenableTelemetry: false\n`,
		});
		await ok(yarnInstall[0] ?? "yarn", yarnInstall.slice(1), {
			cwd: yarnApp,
			env: { YARN_ENABLE_IMMUTABLE_INSTALLS: "false" },
		});
		expect(readFileSync(join(yarnApp, "yarn.lock"), "utf8")).toContain(`"${widget}@npm:`);

		// The package has a loader channel: the snippet names it.
		expect(await copied("loader")).toContain(`load("${widget}", { channel: "stable" })`);
		await tab.close();
	});
});

describe("a phone's width (#24.9)", () => {
	it("keeps the chart's labels at 11 px or more and the page, versions table included, within 390 px", async () => {
		browser ??= await launchChromium();
		const tab = await browser.newPage({ viewport: { width: 390, height: 844 } });
		await tab.goto(`${server.url}/package/${widget}`);
		const sizes = await tab.$$eval("figure.chart .chart-axis span, figure.chart .chart-scale span", (spans) =>
			spans.map((s) => Number.parseFloat(getComputedStyle(s).fontSize)),
		);
		expect(sizes.length).toBeGreaterThan(0);
		for (const size of sizes) expect(size).toBeGreaterThanOrEqual(11);
		expect(await tab.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
		expect(await tab.evaluate(() => document.scrollingElement?.scrollWidth ?? 0)).toBeLessThanOrEqual(390);
		const table = tab.locator("#versions-title + .scroll table");
		const box = await table.boundingBox();
		expect(box?.width ?? 0).toBeLessThanOrEqual(390);
		// Each version and its date: on one line, wholly in view, at a readable size (#24.9).
		const cells = await tab.$$eval("#versions-title + .scroll tbody tr", (rows) =>
			rows.flatMap((row) =>
				[row.querySelector("th a"), row.querySelector("td time")].map((el) => ({
					text: el?.textContent ?? "",
					lines: el?.getClientRects().length ?? 0,
					right: el?.getBoundingClientRect().right ?? Number.POSITIVE_INFINITY,
					size: el ? Number.parseFloat(getComputedStyle(el).fontSize) : 0,
				})),
			),
		);
		expect(cells.map((c) => c.text)).toEqual([
			"1.1.0",
			expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
			"1.0.0",
			expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
		]);
		for (const cell of cells) {
			expect(cell.lines, cell.text).toBe(1);
			expect(cell.right, cell.text).toBeLessThanOrEqual(390);
			expect(cell.size, cell.text).toBeGreaterThanOrEqual(12);
		}
		expect(await tab.textContent("#versions-title + .scroll table")).toContain("superseded by 1.1.0");
		// A file's page at the same width: its text scrolls in its box, the page does not.
		await tab.goto(`${server.url}/package/${filesPackage}/v/1.0.0/files/hostile.html`);
		expect(await tab.evaluate(() => document.scrollingElement?.scrollWidth ?? 0)).toBeLessThanOrEqual(390);
		await tab.close();
	});
});

describe("sessions in Chromium (#22.6, #22.7)", () => {
	it("#22.6 #22.7 a tab in next stays on the registry, and a cookie copied before sign-out is signed out after it", async () => {
		browser ??= await launchChromium();
		const context = await browser.newContext();
		const tab = await context.newPage();
		// A browser strips the tab from `/<TAB>/evil.example/x`, which would leave `//evil.example/x`: another origin.
		await tab.goto(`${server.url}/-/signin?next=${encodeURIComponent("/\t/evil.example/x")}`);
		await tab.fill("#token", devToken);
		await Promise.all([tab.waitForURL(`${server.url}/`), tab.click('form:has(#token) button[type="submit"]')]);
		expect(new URL(tab.url()).origin).toBe(server.url);
		expect(await tab.textContent(".account")).toContain("Signed in as");

		const copied = (await context.cookies()).filter((c) => c.name === "registry-session");
		expect(copied).toHaveLength(1);
		await Promise.all([tab.waitForURL(`${server.url}/`), tab.click(".account button")]);
		expect(await tab.textContent(".account")).toContain("Sign in");

		// Someone who kept a copy of the cookie replays it in another browser context.
		const replay = await browser.newContext();
		await replay.addCookies(copied);
		const other = await replay.newPage();
		await other.goto(`${server.url}/`);
		expect(await other.textContent(".account")).toContain("Sign in");
		expect(await other.textContent(".account")).not.toContain("Signed in as");
		// The pasted token itself still works.
		expect((await api("GET", "/-/whoami")).status).toBe(200);
		await replay.close();
		await context.close();
	});
});

describe("a version's files in Chromium (#24.9)", () => {
	it("#24.9 opens a file from the list as text that never runs, and images (SVG too) as images", async () => {
		browser ??= await launchChromium();
		const tab = await browser.newPage();
		const problems: string[] = [];
		tab.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
		// A CSP refusal is a console error: there must be none.
		tab.on("console", (m) => {
			if (m.type() === "error") problems.push(`console: ${m.text()}`);
		});
		tab.on("response", (r) => {
			if (r.status() >= 400) problems.push(`${r.status()} ${r.url()}`);
		});

		await tab.goto(`${server.url}/package/${filesPackage}/v/1.0.0/files`);
		await Promise.all([tab.waitForURL(/\/files\/hostile\.html$/), tab.click("text=hostile.html")]);
		// The file's text, exactly, but for the hidden characters, each shown as its code point.
		const shown = HOSTILE_HTML.replace("\u202E", "U+202E").replace("\u2066", "U+2066").replace("\u2069", "U+2069");
		expect(await tab.textContent("pre code")).toBe(shown.slice(0, -1));
		expect(await tab.locator("pre .ctl").count()).toBe(3);
		expect(await tab.locator("main script, main iframe, pre img").count()).toBe(0);
		expect(await tab.evaluate("typeof window.__pwned")).toBe("undefined");
		// Numbered by CSS: one number per line, not part of the text.
		expect(await tab.locator("pre.numbered .line").count()).toBe(4);
		expect(
			await tab
				.locator("pre.numbered .line")
				.first()
				.evaluate((el) => getComputedStyle(el, "::before").content),
		).toBe("counter(line)");

		for (const [file, width, height] of [
			["logo.png", 1, 1],
			["icon.svg", 10, 20],
		] as const) {
			await tab.goto(`${server.url}/package/${filesPackage}/v/1.0.0/files/${file}`);
			const image = tab.locator(".file-image img");
			await image.evaluate((img: HTMLImageElement) =>
				img.complete ? undefined : new Promise((resolve) => img.addEventListener("load", resolve, { once: true })),
			);
			expect(await image.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([
				width,
				height,
			]);
			expect(await image.getAttribute("src")).toBe(`${server.url}/files/${filesPackage}@1.0.0/${file}`);
		}
		expect(await tab.locator("main svg").count()).toBe(0);
		expect(await tab.evaluate("typeof window.__pwned")).toBe("undefined");
		expect(problems).toEqual([]);
		await tab.close();
	});
});
