import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium, npmProject, ok, packageJson, RegistryServer, run, tempDir, writeFiles } from "./harness";

// The admin pages in a real headless Chromium against `wrangler dev` (#24.3): the admin signs in,
// creates a token with a grant on a restricted package from the tokens page, copies its `.npmrc`
// line from the page with the page's copy button, and npm works with it (whoami, install); then
// the admin revokes it on the page and npm stops working with it.

let server: RegistryServer;
let browser: Browser | null = null;

const secret = "@adm/secret";

beforeAll(async () => {
	server = await RegistryServer.start();
	const publisher = await server.developerToken(["@adm"]);
	const dir = npmProject(server, publisher, {
		"package.json": packageJson({ name: secret, version: "1.0.0", description: "restricted" }),
		"index.js": "export const hidden = true;\n",
	});
	// A scoped package is restricted unless published with --access public.
	await ok("npm", ["publish"], { cwd: dir });
	expect((await fetch(`${server.url}/${secret.replace("/", "%2f")}`)).status).toBe(404);
});

afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

/** A fresh app whose .npmrc is the registry's address and the line copied from the page. */
function app(copied: string): string {
	const dir = tempDir("admin-app");
	writeFiles(dir, {
		"package.json": packageJson({ name: "app", version: "1.0.0" }),
		".npmrc": [
			`registry=${server.url}/`,
			copied,
			`cache=${join(dir, ".npm-cache")}`,
			"update-notifier=false",
			"fund=false",
			"audit=false",
			"",
		].join("\n"),
	});
	return dir;
}

describe("the admin pages in Chromium (#24.3)", () => {
	it("#24.3 an admin creates a token with a grant on the page, npm works with the copied line, and stops once it is revoked on the page", async () => {
		browser = await launchChromium();
		const context = await browser.newContext();
		await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
		const tab = await context.newPage();
		const problems: string[] = [];
		tab.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
		tab.on("console", (m) => {
			if (m.type() === "error") problems.push(`console: ${m.text()}`);
		});

		await tab.goto(`${server.url}/-/signin?next=${encodeURIComponent("/-/dashboard")}`);
		await tab.fill("#token", server.adminToken);
		await Promise.all([tab.waitForURL(/\/-\/dashboard$/), tab.click('form:has(#token) button[type="submit"]')]);
		await Promise.all([tab.waitForURL(/\/-\/dashboard\/tokens$/), tab.click('main a[href="/-/dashboard/tokens"]')]);

		const form = tab.locator('form:has(input[name="op"][value="create"])');
		await form.locator('input[name="name"]').fill("ci-reader");
		await form.locator('select[name="kind"]').selectOption("developer");
		await form.locator('input[name="subject"]').first().fill(secret);
		await form.locator('select[name="permissions"]').first().selectOption("read");
		const [answer] = await Promise.all([
			tab.waitForResponse((r) => r.request().method() === "POST" && r.url().endsWith("/-/dashboard/tokens")),
			tab.click('button:text("Create token")'),
		]);
		await tab.waitForSelector('pre[data-lines="npmrc"]');
		// The plaintext is in this answer only: not cached anywhere, not in the address.
		expect(answer.status()).toBe(200);
		expect(answer.headers()["cache-control"]).toBe("no-store");
		expect(await tab.textContent('p.done[role="status"]')).toBe("Token “ci-reader” created.");

		// Copied with the page's own button, as a person would.
		const copyButton = tab.locator('pre[data-lines="npmrc"] + button.copy');
		await copyButton.click();
		await tab.waitForFunction(
			() => document.querySelector('pre[data-lines="npmrc"] + button.copy')?.textContent === "Copied",
		);
		const copied = (await tab.evaluate(() => navigator.clipboard.readText())).trim();
		const token = (await tab.textContent('pre[data-lines="token"]'))?.trim() ?? "";
		expect(token).toMatch(/^dev_/);
		expect(copied).toBe(`//127.0.0.1:${server.port}/:_authToken=${token}`);
		expect(tab.url()).not.toContain(token.slice(4));

		const granted = app(copied);
		expect((await ok("npm", ["whoami"], { cwd: granted })).stdout.trim()).toBe("ci-reader");
		await ok("npm", ["install", secret], { cwd: granted });
		expect(existsSync(join(granted, "node_modules/@adm/secret/index.js"))).toBe(true);

		// The list never shows the secret; revoking on the page says so and npm stops working.
		await tab.goto(`${server.url}/-/dashboard/tokens`);
		expect(await tab.content()).not.toContain(token);
		const row = tab.locator('tr:has(th:text-is("ci-reader"))');
		// Revoking asks first: a token in use breaks whoever uses it.
		const asked: string[] = [];
		tab.once("dialog", async (dialog) => {
			asked.push(dialog.message());
			await dialog.accept();
		});
		await Promise.all([tab.waitForURL(/\/-\/dashboard\/tokens#tokens$/), row.locator('button:text("Revoke")').click()]);
		expect(asked).toEqual(["Revoke ci-reader? It stops working at once."]);
		expect(await tab.textContent('p.done[role="status"]')).toContain("Token “ci-reader”");
		expect(await tab.textContent('p.done[role="status"]')).toContain("revoked");
		expect(await tab.locator('tr:has(th:text-is("ci-reader"))').count()).toBe(0);

		const revoked = app(copied);
		expect((await run("npm", ["whoami"], { cwd: revoked })).code).not.toBe(0);
		const install = await run("npm", ["install", secret], { cwd: revoked });
		expect(install.code).not.toBe(0);
		expect(existsSync(join(revoked, "node_modules/@adm/secret"))).toBe(false);
		expect(problems).toEqual([]);
		await context.close();
	});
});
