import { env } from "cloudflare:test";
import { createTarDecoder } from "modern-tar";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createToken, publish, publisherFor, readPackument, uniqueName } from "./helpers/registry";
import { checksums, gzipTar } from "./helpers/tarball";

// POST /packages/{name}/upload: a build becomes a new immutable version without moving the channels
// a publisher chose; `latest` follows the highest version until a publisher moves it (#24.1).

type Uploaded = {
	packageId: string;
	versionId: string;
	version: string;
	baseUri: string;
	index: string;
	channelsMoved: string[];
};

async function upload(name: string, token: string | null, body: BodyInit, query = "") {
	return call(`/packages/${name}/upload${query}`, {
		method: "POST",
		token,
		body,
		headers: { "content-type": "application/gzip" },
	});
}

async function entries(tgz: Uint8Array<ArrayBuffer>): Promise<Record<string, string>> {
	const stream = new Blob([tgz]).stream().pipeThrough(new DecompressionStream("gzip")).pipeThrough(createTarDecoder());
	const out: Record<string, string> = {};
	for await (const entry of stream) out[entry.header.name] = await new Response(entry.body).text();
	return out;
}

describe("bundle upload", () => {
	it("creates a version from the bundle's package.json, moving only latest (#24.1)", async () => {
		const name = uniqueName("up");
		const token = await publisherFor(name);
		const bundle = await gzipTar({
			"package.json": JSON.stringify({ name, version: "1.2.0", module: "index.js" }),
			"index.js": "export default 'v1.2.0';\n",
			"assets/a.css": "a{}",
		});
		const res = await upload(name, token, bundle, "?access=public");
		expect(res.status).toBe(201);
		const body = (await res.json()) as Uploaded;
		expect(body.version).toBe("1.2.0");
		expect(body.versionId).toMatch(/^[0-9a-f-]{36}$/);
		expect(body.index).toBe(`http://registry.test/files/${name}@1.2.0/index.js`);
		expect(await (await call(new URL(body.index).pathname)).text()).toBe("export default 'v1.2.0';\n");

		expect(body.channelsMoved).toEqual(["latest"]);
		const channels = (await (await call(`/packages/${name}/channels`, { token })).json()) as {
			channels: { channel: string; version: string }[];
		};
		expect(channels.channels.map((c) => [c.channel, c.version])).toEqual([["latest", "1.2.0"]]);
		const byId = await call(`/packages/${name}/versions/${body.versionId}`, { token });
		expect(((await byId.json()) as { version: string }).version).toBe("1.2.0");
	});

	it("is installable with npm: a tarball whose package.json carries the name and version", async () => {
		const name = uniqueName("up");
		const token = await publisherFor(name);
		const res = await upload(name, token, await gzipTar({ "index.js": "export default 1;\n" }, null), "?version=3.1.4");
		const { version } = (await res.json()) as Uploaded;
		expect(version).toBe("3.1.4");
		const doc = await readPackument(name, token);
		const dist = doc.versions["3.1.4"]?.dist;
		expect(doc["dist-tags"]).toEqual({ latest: "3.1.4" });
		const tgz = new Uint8Array(await (await call(new URL(dist?.tarball ?? "").pathname, { token })).arrayBuffer());
		expect((await checksums(tgz)).integrity).toBe(dist?.integrity);
		const unpacked = await entries(tgz);
		expect(Object.keys(unpacked).sort()).toEqual(["package/index.js", "package/package.json"]);
		expect(JSON.parse(unpacked["package/package.json"] ?? "{}")).toMatchObject({ name, version: "3.1.4" });
	});

	it("generates a prerelease version when neither the bundle nor the query names a free one", async () => {
		const name = uniqueName("up");
		const token = await publisherFor(name);
		const bundle = await gzipTar({ "package.json": JSON.stringify({ name, version: "1.0.0" }), "index.js": "1" });
		expect(((await (await upload(name, token, bundle)).json()) as Uploaded).version).toBe("1.0.0");
		// 1.0.0 is taken now: the same bundle falls through to ?version=, then to a generated one.
		expect(((await (await upload(name, token, bundle, "?version=1.0.1")).json()) as Uploaded).version).toBe("1.0.1");
		const generated = ((await (await upload(name, token, bundle)).json()) as Uploaded).version;
		expect(generated).toMatch(/^0\.0\.0-upload\.\d{14}\.u[0-9a-f]{8}$/);
		const taken = await upload(name, token, bundle, "?version=1.0.1");
		expect(taken.status).toBe(403);
	});

	it("refuses bundles that are not gzip tarballs, lack index.js or name another package", async () => {
		const name = uniqueName("up");
		const token = await publisherFor(name);
		const cases: [BodyInit, number, RegExp][] = [
			["this is not a tarball", 422, /gzip-compressed tar/],
			[await gzipTar({ "main.js": "1" }), 422, /no index\.js/],
			[await gzipTar({ "package.json": '{"name":"other-package"}', "index.js": "1" }), 422, /names other-package/],
			[await gzipTar({ "package.json": "[1]", "index.js": "1" }), 422, /not a JSON object/],
			[await gzipTar({ "../escape.js": "1", "index.js": "1" }, null), 422, /unsafe path/],
		];
		for (const [body, status, message] of cases) {
			const res = await upload(name, token, body);
			expect(res.status).toBe(status);
			expect(((await res.json()) as { error: string }).error).toMatch(message);
		}
		expect((await upload(name, token, await gzipTar({ "index.js": "1" }), "?version=bad")).status).toBe(400);
		expect((await call(`/packages/${name}/versions`, { token })).status).toBe(404);
	});

	it("refuses a body over the size limit", async () => {
		const name = uniqueName("up");
		const token = await publisherFor(name);
		const res = await upload(name, token, new Uint8Array(Number(env.MAX_BODY_SIZE) + 1));
		expect(res.status).toBe(413);
	});

	it("needs upload permission; customer keys and other scopes are refused", async () => {
		const name = uniqueName("up");
		const bundle = await gzipTar({ "index.js": "1" });
		expect((await upload(name, null, bundle)).status).toBe(401);
		const customer = (await createToken([{ package: name, permissions: ["read"] }], "customer")).token;
		expect((await upload(name, customer, bundle)).status).toBe(403);
		const publisherOnly = (await createToken([{ package: name, permissions: ["read", "publish"] }])).token;
		expect((await upload(name, publisherOnly, bundle)).status).toBe(403);
		const elsewhere = (await createToken([{ package: "other", permissions: ["upload"] }])).token;
		expect((await upload(name, elsewhere, bundle)).status).toBe(403);
		const uploader = (await createToken([{ package: name, permissions: ["upload"] }])).token;
		expect((await upload(name, uploader, bundle)).status).toBe(201);
		expect((await upload(name, ADMIN, bundle)).status).toBe(201);
	});
});

describe("latest after uploads (#24.1)", () => {
	async function uploadVersion(name: string, token: string, version: string): Promise<Uploaded> {
		const res = await upload(
			name,
			token,
			await gzipTar({ "index.js": `export default "${version}";\n` }),
			`?version=${version}`,
		);
		expect(res.status).toBe(201);
		return (await res.json()) as Uploaded;
	}

	it("follows the highest release version: prereleases and lower releases leave it", async () => {
		const name = uniqueName("up-latest");
		const token = await publisherFor(name);
		expect((await uploadVersion(name, token, "1.0.0")).channelsMoved).toEqual(["latest"]);
		expect((await uploadVersion(name, token, "2.0.0-beta.1")).channelsMoved).toEqual([]);
		expect((await uploadVersion(name, token, "1.5.0")).channelsMoved).toEqual(["latest"]);
		expect((await uploadVersion(name, token, "1.2.0")).channelsMoved).toEqual([]);
		expect((await readPackument(name, token))["dist-tags"]).toEqual({ latest: "1.5.0" });
		const history = await call(`/packages/${name}/channels/latest/history`, { token });
		const entries = ((await history.json()) as { history: { version: string; event: string }[] }).history;
		expect(entries.map((e) => [e.version, e.event])).toEqual([
			["1.5.0", "upload"],
			["1.0.0", "upload"],
		]);
	});

	it("points at the newest generated prerelease while there is no release, so npm can install it", async () => {
		const name = uniqueName("up-latest");
		const token = await publisherFor(name);
		const first = await upload(name, token, await gzipTar({ "index.js": "1" }));
		const { version, channelsMoved } = (await first.json()) as Uploaded;
		expect(channelsMoved).toEqual(["latest"]);
		expect((await readPackument(name, token))["dist-tags"]).toEqual({ latest: version });
		const install = await call(`/${name}`, { token, headers: { accept: "application/vnd.npm.install-v1+json" } });
		expect(((await install.json()) as { "dist-tags": Record<string, string> })["dist-tags"].latest).toBe(version);
	});

	it("stays where a publisher put it: later uploads move no channel", async () => {
		const name = uniqueName("up-latest");
		const token = await publisherFor(name);
		await uploadVersion(name, token, "1.0.0");
		await uploadVersion(name, token, "1.1.0");
		const moved = await call(`/packages/${name}/channels/latest`, {
			method: "POST",
			token,
			body: JSON.stringify({ version: "1.0.0" }),
		});
		expect(moved.status).toBe(201);
		expect((await uploadVersion(name, token, "2.0.0")).channelsMoved).toEqual([]);
		expect((await readPackument(name, token))["dist-tags"]).toEqual({ latest: "1.0.0" });
	});

	it("stays where npm publish put it", async () => {
		const name = uniqueName("up-latest");
		const token = await publisherFor(name);
		expect((await publish(name, "1.0.0", token)).status).toBe(201);
		expect((await uploadVersion(name, token, "1.1.0")).channelsMoved).toEqual([]);
		expect((await readPackument(name, token))["dist-tags"]).toEqual({ latest: "1.0.0" });
	});
});
