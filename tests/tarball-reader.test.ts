import { env } from "cloudflare:test";
import { packTar, type TarEntry } from "modern-tar";
import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../schema/errors";
import { LIMITS } from "../schema/limits";
import { HttpError } from "../worker/errors";
import { readReadme } from "../worker/publishing/file-bundle";
import { packTarball, requirePackageJson, type TarballLayout } from "../worker/publishing/tarball";
import { collect, fileBytes, unpacked } from "./helpers/bundle";

// Reading package tarballs (worker/publishing/tarball.ts) for npm publish and bundle uploads:
// layouts, hostile archives, size limits, and the package.json and README inside. The archive is
// read as a publish reads it, streaming into a file bundle in R2, and the files are read back.

type TarballFile = { path: string; bytes: Uint8Array };
type TarballContents = { files: TarballFile[]; unpackedSize: number };

const LIMIT = 1_048_576;
const encoder = new TextEncoder();
const bytes = (text: string) => encoder.encode(text) as Uint8Array<ArrayBuffer>;

async function gzip(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
	return new Uint8Array(
		await new Response(new Blob([data]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
	);
}

/** A gzipped tar of files (path → text), in this order, with names exactly as given. */
async function tgz(files: [string, string][], extra: TarEntry[] = []): Promise<Uint8Array<ArrayBuffer>> {
	const entries: TarEntry[] = files.map(([name, text]) => ({
		header: { name, size: bytes(text).byteLength },
		body: bytes(text),
	}));
	return gzip(await packTar([...entries, ...extra]));
}

async function read(
	archive: Uint8Array<ArrayBuffer>,
	layout: TarballLayout = "npm",
	maxUnpackedSize = LIMIT,
): Promise<TarballContents> {
	return unpacked(archive, { layout, maxUnpackedSize }, async (_writer, bundle) => ({
		files: await Promise.all(bundle.index.map(async (f) => ({ path: f.path, bytes: await fileBytes(bundle, f) }))),
		unpackedSize: bundle.unpackedSize,
	}));
}

/** The root package.json of an archive of these files (under `package/`), as a publish reads it. */
async function packageJsonOf(files: TarballFile[]): Promise<Record<string, unknown> | null> {
	const archive = await gzip(
		await packTar(
			files.map((f) => ({ header: { name: `package/${f.path}`, size: f.bytes.byteLength }, body: f.bytes })),
		),
	);
	return unpacked(archive, { layout: "npm", maxUnpackedSize: LIMIT }, async (writer) => writer.packageJson("npm"));
}

/** The files as path → text, in the order the reader answers them. */
const texts = (contents: TarballContents) =>
	contents.files.map((f) => [f.path, new TextDecoder().decode(f.bytes)] as [string, string]);

/** The HttpError a promise or function is refused with, as `status code: message`. */
async function refusal(attempt: () => unknown): Promise<string> {
	try {
		await attempt();
	} catch (error) {
		if (error instanceof HttpError) return `${error.status} ${error.code}: ${error.message}`;
		throw error;
	}
	throw new Error("expected a refusal");
}

const refused = (status: number, code: ErrorCode, message: string) => `${status} ${code}: ${message}`;

describe("layouts", () => {
	it.each<[string, TarballLayout, [string, string][], [string, string][]]>([
		[
			"npm drops the top directory, whatever it is called",
			"npm",
			[
				["pkg-1.0.0/package.json", "{}"],
				["pkg-1.0.0/lib/a.js", "a"],
			],
			[
				["package.json", "{}"],
				["lib/a.js", "a"],
			],
		],
		[
			"npm drops files that sit at the root (npm's strip: 1)",
			"npm",
			[
				["README.md", "root"],
				["package/index.js", "i"],
			],
			[["index.js", "i"]],
		],
		[
			"auto drops a directory every file shares",
			"auto",
			[
				["dist/index.js", "i"],
				["dist/lib/a.js", "a"],
			],
			[
				["index.js", "i"],
				["lib/a.js", "a"],
			],
		],
		[
			"auto keeps files at the root",
			"auto",
			[
				["index.js", "i"],
				["lib/a.js", "a"],
			],
			[
				["index.js", "i"],
				["lib/a.js", "a"],
			],
		],
		[
			"auto keeps paths when the files do not all share one directory",
			"auto",
			[
				["dist/index.js", "i"],
				["src/index.ts", "s"],
			],
			[
				["dist/index.js", "i"],
				["src/index.ts", "s"],
			],
		],
		["auto keeps a single file at the root", "auto", [["index.js", "i"]], [["index.js", "i"]]],
		[
			"empty and . segments collapse",
			"npm",
			[
				["./package/index.js", "i"],
				["package//lib/./a.js", "a"],
			],
			[
				["index.js", "i"],
				["lib/a.js", "a"],
			],
		],
		[
			"the last of duplicate paths wins, in the first one's place",
			"npm",
			[
				["package/a.js", "first"],
				["package/b.js", "b"],
				["package/./a.js", "last"],
			],
			[
				["a.js", "last"],
				["b.js", "b"],
			],
		],
	])("%s", async (_name, layout, files, expected) => {
		expect(texts(await read(await tgz(files), layout))).toEqual(expected);
	});

	it("skips directories and links, keeping regular files only", async () => {
		const archive = await tgz(
			[["package/index.js", "i"]],
			[
				{ header: { name: "package/lib/", size: 0, type: "directory" } },
				{ header: { name: "package/link.js", size: 0, type: "symlink", linkname: "/etc/passwd" } },
				{ header: { name: "package/hard.js", size: 0, type: "link", linkname: "package/index.js" } },
			],
		);
		expect(texts(await read(archive))).toEqual([["index.js", "i"]]);
	});

	it("counts the unpacked size as the bytes of the files it keeps", async () => {
		const contents = await read(
			await tgz([
				["package/a.js", "12345"],
				["package/b.js", "123"],
				["package/a.js", "1234567"],
			]),
		);
		expect(contents.unpackedSize).toBe(10);
	});
});

describe("hostile and broken archives", () => {
	it.each([
		"../evil.js",
		"package/../../evil.js",
		"package/lib/../../../evil.js",
		"/etc/passwd",
		"C:/windows/evil.js",
		"c:evil.js",
		"package/a\\..\\..\\evil.js",
	])("refuses the unsafe path %j", async (name) => {
		expect(await refusal(async () => read(await tgz([[name, "x"]]), "auto"))).toBe(
			refused(422, "badTarball", `unsafe path in tarball: ${name}`),
		);
	});

	it.each<[string, () => Promise<Uint8Array<ArrayBuffer>>]>([
		["random bytes", async () => crypto.getRandomValues(new Uint8Array(512))],
		["an empty body", async () => new Uint8Array(0)],
		["a tar that is not gzipped", async () => packTar([{ header: { name: "package/a.js", size: 1 }, body: "a" }])],
		["gzipped text that is not a tar", async () => gzip(bytes("hello, this is not a tar archive ".repeat(40)))],
		[
			"a gzip stream cut in half",
			async () => {
				const whole = await tgz([["package/a.js", "x".repeat(10_000)]]);
				return whole.slice(0, whole.byteLength / 2);
			},
		],
	])("refuses %s as not a tarball", async (_name, archive) => {
		expect(await refusal(async () => read(await archive()))).toBe(
			refused(422, "badTarball", "tarball is not a valid gzip-compressed tar archive"),
		);
	});

	it.each<[string, () => Promise<Uint8Array<ArrayBuffer>>]>([
		["an empty archive", async () => gzip(await packTar([]))],
		[
			"an archive of directories only",
			async () => tgz([], [{ header: { name: "package/", size: 0, type: "directory" } }]),
		],
	])("refuses %s: no files", async (_name, archive) => {
		expect(await refusal(async () => read(await archive()))).toBe(
			refused(422, "badTarball", "tarball contains no files"),
		);
	});

	it("refuses an archive that inflates past the limit with 413, whatever its compressed size", async () => {
		const archive = await tgz([["package/zeros.bin", "\0".repeat(200_000)]]);
		expect(archive.byteLength).toBeLessThan(2_000);
		expect(await refusal(() => read(archive, "npm", 100_000))).toBe(
			refused(413, "payloadTooLarge", "tarball unpacks to more than 100000 bytes"),
		);
		expect((await read(archive, "npm", 300_000)).unpackedSize).toBe(200_000);
	});

	it("refuses an archive that inflates more than LIMITS.inflationRatio times past the grace, under any unpacked limit", async () => {
		const size = LIMITS.inflationGraceBytes + 4 * 1024 * 1024;
		const single = (body: Uint8Array<ArrayBuffer>) =>
			packTar([{ header: { name: "package/data.bin", size: body.byteLength }, body }]).then(gzip);
		const zeros = await single(new Uint8Array(size));
		expect(zeros.byteLength * LIMITS.inflationRatio).toBeLessThan(size);
		expect(await refusal(() => read(zeros, "npm", 1024 ** 3))).toBe(
			refused(
				413,
				"payloadTooLarge",
				`tarball unpacks to more than ${LIMITS.inflationRatio} times its compressed size`,
			),
		);
		// As many bytes that do not compress (a binary, an image) unpack as they are.
		const noise = new Uint8Array(size);
		for (let at = 0; at < size; at += 65_536) crypto.getRandomValues(noise.subarray(at, at + 65_536));
		expect((await read(await single(noise), "npm", 1024 ** 3)).unpackedSize).toBe(size);
	});
});

describe("packing", () => {
	const files: TarballFile[] = [
		{ path: "package.json", bytes: bytes('{"name":"widget","version":"1.0.0"}') },
		{ path: "lib/deep/a.js", bytes: bytes("export default 1;\n") },
		{ path: "empty.txt", bytes: bytes("") },
		{ path: "logo.png", bytes: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255]) },
	];

	const packed = () =>
		collect(packTarball(files.map((f) => ({ path: f.path, size: f.bytes.byteLength, body: f.bytes }))));

	it.each<TarballLayout>(["npm", "auto"])("round-trips through the reader with the %s layout", async (layout) => {
		const contents = await read(await packed(), layout);
		expect(contents.files).toEqual(files);
		expect(contents.unpackedSize).toBe(files.reduce((sum, f) => sum + f.bytes.byteLength, 0));
	});

	it("packs the same files to the same bytes (no clock inside)", async () => {
		expect(await packed()).toEqual(await packed());
	});
});

describe("package.json", () => {
	const file = (path: string, text: string): TarballFile => ({ path, bytes: bytes(text) });

	it.each<[string, TarballFile[], Record<string, unknown> | null]>([
		[
			"the root package.json as an object",
			[file("package.json", '{"name":"a","version":"1.0.0"}')],
			{ name: "a", version: "1.0.0" },
		],
		["null without one", [file("index.js", "")], null],
		["null for one that is not at the root", [file("lib/package.json", '{"name":"a"}')], null],
	])("reads %s", async (_name, files, expected) => {
		expect(await packageJsonOf(files)).toEqual(expected);
	});

	it.each<[string, string, string]>([
		["invalid JSON", "{", "package.json in the tarball is not valid JSON"],
		["an array", "[]", "package.json in the tarball is not a JSON object"],
		["a string", '"name"', "package.json in the tarball is not a JSON object"],
		["null", "null", "package.json in the tarball is not a JSON object"],
	])("refuses %s", async (_name, text, message) => {
		expect(await refusal(() => packageJsonOf([file("package.json", text)]))).toBe(refused(422, "badTarball", message));
	});

	it("is required for npm publish", async () => {
		expect(await refusal(async () => requirePackageJson(await packageJsonOf([file("index.js", "")])))).toBe(
			refused(422, "badTarball", "tarball has no package/package.json"),
		);
	});
});

describe("README", () => {
	/**
	 * The README a publish of these files (each holding `text of {path}`) puts in the packument; a
	 * package.json comes along, so that no list leaves the tarball empty.
	 */
	const readmeOf = async (paths: string[]) =>
		unpacked(
			await tgz([
				["package/package.json", "{}"],
				...paths.map((path): [string, string] => [`package/${path}`, `text of ${path}`]),
			]),
			{ layout: "npm", maxUnpackedSize: LIMIT },
			(_writer, bundle) => readReadme(env, bundle, 1024),
		);

	it.each<[string[], string | null]>([
		[["readme.txt", "README.md", "README"], "README.md"],
		[["readme.MD"], "readme.MD"],
		[["readme.txt", "README"], "readme.txt"],
		[["README"], "README"],
		[["Readme.markdown"], "Readme.markdown"],
		[["docs/README.md", "index.js"], null],
		[["readme-extra.md", "READMEs"], null],
		[[], null],
	])("picks from %j: %j", async (paths, expected) => {
		const readme = await readmeOf(paths);
		expect(readme).toEqual(expected === null ? null : { filename: expected, readme: `text of ${expected}` });
	});
});
