import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npmProject, ok, packageJson, RegistryServer } from "./harness";

// npm search finds what npm published, real npm installs show up in the downloads API, and both
// survive a restart of wrangler dev.

let server: RegistryServer;
let token: string;

beforeAll(async () => {
	// Flush download counts after a second, so the restart below finds them written.
	server = await RegistryServer.start({ DOWNLOAD_FLUSH_SECONDS: "1", SEARCH_DOWNLOADS_PUSH_SECONDS: "1" });
	token = await server.developerToken(["@find", "find-helpers"]);
});

afterAll(async () => {
	await server?.stop();
});

async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
	let last: T | undefined;
	for (let i = 0; i < 60; i++) {
		last = await read();
		if (ok(last)) return last;
		await new Promise((r) => setTimeout(r, 250));
	}
	throw new Error(`${what} never happened: ${JSON.stringify(last)}`);
}

const downloads = async () =>
	((await (await fetch(`${server.url}/-/downloads/point/last-week/find-helpers`)).json()) as { downloads: number })
		.downloads;

describe("search and downloads", () => {
	it("finds with npm search what npm published, and counts npm installs", async () => {
		for (const [name, description, keywords] of [
			["find-helpers", "helpers for finding marmalade", ["marmalade", "search"]],
			["@find/toolkit", "a toolkit that uses find-helpers", ["marmalade"]],
		] as const) {
			const dir = npmProject(server, token, {
				"package.json": packageJson({ name, version: "1.0.0", description, keywords, main: "index.js" }),
				"index.js": "module.exports = 1;\n",
			});
			await ok("npm", ["publish", "--access", "public"], { cwd: dir });
		}
		const cwd = npmProject(server, token, { "package.json": packageJson({ name: "finder", version: "1.0.0" }) });
		const found = await eventually(
			async () => (await ok("npm", ["search", "marmalade", "--json"], { cwd })).stdout,
			(out) => out.includes("@find/toolkit") && out.includes("find-helpers"),
			"npm search finding both packages",
		);
		const results = JSON.parse(found) as { name: string; description: string }[];
		expect(results.map((r) => r.name)).toEqual(["find-helpers", "@find/toolkit"]);
		const table = await ok("npm", ["search", "find-helpers"], { cwd });
		expect(table.stdout).toContain("helpers for finding marmalade");

		for (let i = 0; i < 2; i++) {
			const app = npmProject(server, null, {
				"package.json": packageJson({ name: `app-${i}`, version: "1.0.0", dependencies: { "find-helpers": "^1.0.0" } }),
			});
			await ok("npm", ["install"], { cwd: app });
		}
		expect(await eventually(downloads, (n) => n === 2, "two downloads")).toBe(2);
		const versions = await (await fetch(`${server.url}/-/downloads/versions/find-helpers/last-week`)).json();
		expect(versions).toMatchObject({ downloads: { "1.0.0": 2 } });
	});

	it("keeps the index and the counts across a restart", async () => {
		// The counts reach the search index from the object's alarm (pushed after 1 s): poll until
		// the index ranks by them before stopping (no-cache: each look asks the index itself).
		const ranked = async () =>
			(
				(await (
					await fetch(`${server.url}/-/v1/search?text=marmalade`, { headers: { "cache-control": "no-cache" } })
				).json()) as { objects: { package: { name: string }; downloads: { weekly: number } }[] }
			).objects[0];
		await eventually(ranked, (top) => top?.package.name === "find-helpers" && top.downloads.weekly === 2, "ranking");
		await server.restart();
		expect(await downloads()).toBe(2);
		const cwd = npmProject(server, token, { "package.json": packageJson({ name: "finder", version: "1.0.0" }) });
		const out = (await ok("npm", ["search", "marmalade", "--json"], { cwd })).stdout;
		expect((JSON.parse(out) as { name: string }[]).map((r) => r.name)).toEqual(["find-helpers", "@find/toolkit"]);
		const popular = (await (await fetch(`${server.url}/-/v1/search?text=marmalade`)).json()) as {
			objects: { package: { name: string }; downloads: { weekly: number } }[];
		};
		expect(popular.objects[0]?.downloads.weekly).toBe(2);
	});
});
