import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { entryIntegrity, entryPath } from "../worker/publishing/file-bundle";
import { bundleBytes, bundled, type FileBytes, fileBytes } from "./helpers/bundle";

// A version's files laid end to end in one R2 object (worker/publishing/file-bundle.ts), written
// as the files stream by and read back from R2, and the entry file a web page imports first.

const encoder = new TextEncoder();
const file = (path: string, text = `contents of ${path}`): FileBytes & { bytes: Uint8Array<ArrayBuffer> } => ({
	path,
	bytes: encoder.encode(text) as Uint8Array<ArrayBuffer>,
});

const hex = async (algorithm: string, data: Uint8Array<ArrayBuffer>) =>
	new Uint8Array(await crypto.subtle.digest(algorithm, data)).toHex();

describe("FileBundleWriter", () => {
	it("lays files end to end in the given order, indexing each one's offset, size and SHA-256", async () => {
		const files = [file("index.js", "12345"), file("empty.txt", ""), file("lib/a.js", "abc"), file("z.css", "z")];
		const bundle = await bundled(files, async (b) => ({ ...b, bytes: await bundleBytes(b) }));
		expect(new TextDecoder().decode(bundle.bytes)).toBe("12345abcz");
		expect(bundle.index).toEqual([
			{ path: "index.js", offset: 0, size: 5, sha256: await hex("SHA-256", files[0]?.bytes ?? new Uint8Array()) },
			{
				path: "empty.txt",
				offset: 5,
				size: 0,
				sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			},
			{
				path: "lib/a.js",
				offset: 5,
				size: 3,
				sha256: await hex("SHA-256", encoder.encode("abc") as Uint8Array<ArrayBuffer>),
			},
			{
				path: "z.css",
				offset: 8,
				size: 1,
				sha256: await hex("SHA-256", encoder.encode("z") as Uint8Array<ArrayBuffer>),
			},
		]);
	});

	it("slices back to every file's bytes", async () => {
		const files = [file("a.bin", "\u0000\u0001\u0002"), file("b.txt"), file("c/d.js", "é")];
		await bundled(files, async (bundle) => {
			const bytes = await bundleBytes(bundle);
			for (const [i, entry] of bundle.index.entries()) {
				expect(bytes.slice(entry.offset, entry.offset + entry.size)).toEqual(files[i]?.bytes);
				expect(await fileBytes(bundle, entry)).toEqual(files[i]?.bytes);
			}
			expect(bytes.byteLength).toBe(files.reduce((sum, f) => sum + f.bytes.byteLength, 0));
		});
	});

	it("bundles no files to nothing", async () => {
		const bundle = await bundled([], async (b) => ({ ...b, bytes: await bundleBytes(b) }));
		expect([bundle.bytes.byteLength, bundle.index]).toEqual([0, []]);
	});
});

describe("entryPath", () => {
	const all = ["index.js", "lib/module.mjs", "lib/browser.js", "lib/main.js"];

	it.each<[string, string[], Record<string, unknown>, string | null]>([
		[
			"index.js at the root before anything the manifest names",
			all,
			{ module: "lib/module.mjs", browser: "lib/browser.js", main: "lib/main.js" },
			"index.js",
		],
		[
			"module before browser and main",
			all.slice(1),
			{ module: "lib/module.mjs", browser: "lib/browser.js", main: "lib/main.js" },
			"lib/module.mjs",
		],
		["browser before main", all.slice(2), { browser: "lib/browser.js", main: "lib/main.js" }, "lib/browser.js"],
		["main last", all.slice(3), { main: "lib/main.js" }, "lib/main.js"],
		["a field's ./ prefix dropped", all.slice(3), { main: "./lib/main.js" }, "lib/main.js"],
		[
			"the next candidate when a named file is not in the bundle",
			all.slice(2),
			{ module: "lib/module.mjs", browser: "lib/browser.js" },
			"lib/browser.js",
		],
		[
			"past a browser field that is a replacement map",
			all.slice(3),
			{ browser: { "./x.js": false }, main: "lib/main.js" },
			"lib/main.js",
		],
		["nothing when no candidate exists", ["lib/index.js", "README.md"], { main: "dist/main.js" }, null],
		["nothing for an index.js that is not at the root", ["lib/index.js"], {}, null],
		["nothing for no files", [], { main: "index.js" }, null],
	])("prefers %s", (_name, paths, manifest, expected) => {
		expect(
			entryPath(
				paths.map((p) => file(p)),
				manifest,
			),
		).toBe(expected);
	});
});

describe("entryIntegrity", () => {
	it.each<[string, string | null, boolean]>([
		["the entry file's SHA-384 as SRI", "lib/main.js", true],
		["nothing without an entry", null, false],
		["nothing when the entry is not in the bundle", "missing.js", false],
	])("is %s", async (_name, path, present) => {
		const files = [file("index.js"), file("lib/main.js", "export {};\n")];
		const expected = present
			? `sha384-${new Uint8Array(await crypto.subtle.digest("SHA-384", encoder.encode("export {};\n"))).toBase64()}`
			: null;
		expect(await bundled(files, (bundle) => entryIntegrity(env, bundle, path))).toBe(expected);
	});
});
