import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, createToken, publish, publisherFor, uniqueName } from "./helpers/registry";

// Immutable files of every version, read from the version's bundle by offset.

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
const files = {
	"index.js": "export const hello = 'world';\n",
	"lib/util.mjs": "export default 42;\n",
	"styles/theme.css": ":root { --c: red; }\n",
	"data/config.json": '{"a":1}',
	"icons/logo.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
	"img/logo.png": png,
	"fonts/a.woff2": new Uint8Array([119, 79, 70, 50]),
	"wasm/m.wasm": new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]),
	"page.html": "<script>alert(1)</script>",
	"empty.txt": "",
	"deep/er/still/file.js": "export {};\n",
};

async function publishedWithFiles(access: "public" | "restricted" = "public") {
	const name = uniqueName("files");
	const token = await publisherFor(name);
	const res = await publish(name, "1.0.0", token, { access, files });
	expect(res.status).toBe(201);
	return { name, token };
}

describe("version files", () => {
	it("serves every file byte for byte with its content type, CORS and immutable caching", async () => {
		const { name } = await publishedWithFiles();
		const expected: [string, string][] = [
			["index.js", "text/javascript; charset=utf-8"],
			["lib/util.mjs", "text/javascript; charset=utf-8"],
			["styles/theme.css", "text/css; charset=utf-8"],
			["data/config.json", "application/json; charset=utf-8"],
			["icons/logo.svg", "image/svg+xml"],
			["img/logo.png", "image/png"],
			["fonts/a.woff2", "font/woff2"],
			["wasm/m.wasm", "application/wasm"],
			["page.html", "text/plain; charset=utf-8"],
			["empty.txt", "text/plain; charset=utf-8"],
			["deep/er/still/file.js", "text/javascript; charset=utf-8"],
		];
		for (const [path, type] of expected) {
			const res = await call(`/files/${name}@1.0.0/${path}`);
			expect(res.status, path).toBe(200);
			expect(res.headers.get("content-type"), path).toBe(type);
			expect(res.headers.get("access-control-allow-origin")).toBe("*");
			expect(res.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
			expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
			expect(res.headers.get("etag")).toMatch(/^"[0-9a-f]{64}"$/);
			const body = new Uint8Array(await res.arrayBuffer());
			const source = files[path as keyof typeof files];
			expect(body).toEqual(typeof source === "string" ? new TextEncoder().encode(source) : source);
		}
		const svg = await call(`/files/${name}@1.0.0/icons/logo.svg`);
		expect(svg.headers.get("content-security-policy")).toMatch(/sandbox/);
	});

	it("#25 answers a file read again from the read tier with the same headers (made once), its length among them", async () => {
		const { name } = await publishedWithFiles();
		for (const path of ["index.js", "icons/logo.svg", "empty.txt", "page.html"]) {
			const answers = [];
			for (let i = 0; i < 3; i++) {
				const res = await call(`/files/${name}@1.0.0/${path}`);
				const body = new Uint8Array(await res.arrayBuffer());
				const headers = Object.fromEntries(res.headers);
				expect(headers["content-length"], path).toBe(String(body.byteLength));
				answers.push(headers);
			}
			const [first, ...hits] = answers.map(({ "x-registry-cache": cache, ...rest }) => ({ cache, rest }));
			expect(first?.cache, path).toBe("miss");
			for (const hit of hits) expect(hit, path).toEqual({ cache: "hit", rest: first?.rest });
		}
	});

	it("sends CORS headers on errors too", async () => {
		const res = await call(`/files/${uniqueName()}@1.0.0/index.js`);
		expect(res.status).toBe(404);
		expect(res.headers.get("access-control-allow-origin")).toBe("*");
		expect(await res.json()).toMatchObject({ error: "not_found" });
	});

	it("answers 304 for a matching ETag", async () => {
		const { name } = await publishedWithFiles();
		const first = await call(`/files/${name}@1.0.0/index.js`);
		const etag = first.headers.get("etag") ?? "";
		const again = await call(`/files/${name}@1.0.0/index.js`, { headers: { "if-none-match": etag } });
		expect(again.status).toBe(304);
		expect(again.headers.get("etag")).toBe(etag);
	});

	it("indexes each file's offset and size in the version's single bundle object", async () => {
		const { name } = await publishedWithFiles();
		const stub = env.PACKAGES.get(env.PACKAGES.idFromName(name));
		const paths = ["package.json", ...Object.keys(files)];
		const located = await Promise.all(
			paths.map(async (path) => {
				const answer = await stub.file("1.0.0", path);
				if (!answer.ok) throw new Error(`${path}: ${answer.message}`);
				return answer.value;
			}),
		);
		// Every file is indexed, and nothing else is: the packument counts the index's rows.
		const doc = (await (await call(`/${name}`)).json()) as {
			versions: Record<string, { dist: { fileCount: number } }>;
		};
		expect(doc.versions["1.0.0"]?.dist.fileCount).toBe(paths.length);
		const keys = new Set(located.map((l) => l.key));
		expect(keys.size).toBe(1);
		const rows = located.map((l) => l.file).sort((a, b) => a.offset - b.offset || a.size - b.size);
		expect(rows.map((r) => r.path).sort()).toEqual(paths.sort());
		const bundle = new Uint8Array(await ((await env.BLOBS.get([...keys][0] ?? "")) as R2ObjectBody).arrayBuffer());
		let end = 0;
		for (const row of rows) {
			expect(row.offset).toBe(end);
			end = row.offset + row.size;
			const source = files[row.path as keyof typeof files];
			if (source !== undefined) {
				const bytes = typeof source === "string" ? new TextEncoder().encode(source) : source;
				expect(bundle.slice(row.offset, end)).toEqual(bytes);
			}
		}
		expect(end).toBe(bundle.byteLength);
	});

	it("answers 404 for missing files, directories, tags and traversal attempts", async () => {
		const { name } = await publishedWithFiles();
		for (const path of [
			`/files/${name}@1.0.0/missing.js`,
			`/files/${name}@1.0.0/lib`,
			`/files/${name}@1.0.0/`,
			`/files/${name}@latest/index.js`,
			`/files/${name}@9.9.9/index.js`,
			`/files/${name}@1.0.0/%2e%2e/%2e%2e/package.json`,
			`/files/${name}@1.0.0/%2e%2e/${name}@1.0.1/index.js`,
			`/files/${name}@1.0.0/lib%2futil.mjs`,
			`/files/${name}@1.0.0/.%2findex.js`,
			`/files/${uniqueName()}@1.0.0/index.js`,
		]) {
			const res = await call(path);
			expect(res.status, path).toBe(404);
		}
	});

	it("resolves dot segments as URLs do, so a path can never leave its version", async () => {
		const { name } = await publishedWithFiles();
		// `%2e%2e` is a dot segment to the URL parser: resolved before routing, like `..` itself.
		const res = await call(`/files/${name}@1.0.0/lib/%2e%2e/index.js`);
		expect(await res.text()).toBe(files["index.js"]);
		expect((await call(`/files/${name}@1.0.0/lib/%252e%252e/index.js`)).status).toBe(404);
	});

	it("serves scoped packages", async () => {
		const scope = `@${uniqueName("s")}`;
		const name = `${scope}/widget`;
		const token = await publisherFor(scope);
		await publish(name, "1.0.0", token, { access: "public", files });
		expect((await call(`/files/${name}@1.0.0/index.js`)).status).toBe(200);
		expect((await call(`/files/${scope}%2fwidget@1.0.0/index.js`)).status).toBe(200);
	});

	it("serves restricted files only under the capability URL handed to readers", async () => {
		const { name } = await publishedWithFiles("restricted");
		await publish(name, "1.0.1", await publisherFor(name), { files });
		expect((await call(`/files/${name}@1.0.0/index.js`)).status).toBe(404);
		const customer = (await createToken([{ package: name, permissions: ["read"] }], "customer")).token;
		const state = (await (await call(`/packages/${name}/channels/latest`, { token: customer })).json()) as {
			baseUri: string;
			index: string;
		};
		const capability = new URL(state.baseUri).pathname.split("/")[2] ?? "";
		expect(capability).toMatch(/^~[A-Za-z0-9_-]{43}$/);
		const res = await call(new URL(state.index).pathname);
		expect(res.status).toBe(200);
		expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
		// The capability is for one version only, and cannot be guessed or altered.
		expect((await call(`/files/${capability}/${name}@1.0.0/index.js`)).status).toBe(404);
		const forged = `~${"A".repeat(43)}`;
		expect((await call(`/files/${forged}/${name}@1.0.1/index.js`)).status).toBe(404);
		expect((await call(`/files/~not-base64!/${name}@1.0.1/index.js`)).status).toBe(404);
	});
});

describe("loader", () => {
	it("serves /loader.js as a cross-origin ES module", async () => {
		const res = await call("/loader.js");
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
		expect(res.headers.get("access-control-allow-origin")).toBe("*");
		const source = await res.text();
		expect(source).toContain("export async function load(name, options = {})");
		const etag = res.headers.get("etag") ?? "";
		expect((await call("/loader.js", { headers: { "if-none-match": etag } })).status).toBe(304);
	});
});
