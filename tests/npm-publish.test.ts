import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
	ADMIN,
	ALL,
	call,
	createToken,
	type Packument,
	packument,
	publish,
	publishBody,
	publisherFor,
	readPackument,
	uniqueName,
} from "./helpers/registry";
import { checksums, gzipTar } from "./helpers/tarball";

async function revOf(name: string): Promise<string | null> {
	const res = await packument(name, ADMIN);
	return res.status === 200 ? ((await res.json()) as { _rev: string })._rev : null;
}

/** Sends a publish whose body was tampered with, and checks the package is exactly as before. */
async function expectRefusedPublish(
	name: string,
	token: string,
	body: unknown,
	status: number,
	message: RegExp,
): Promise<void> {
	const before = await revOf(name);
	const res = await call(`/${name}`, { method: "PUT", token, body: JSON.stringify(body) });
	expect(res.status).toBe(status);
	const json = (await res.json()) as { error: string };
	expect(json.error).toMatch(message);
	expect(await revOf(name)).toBe(before);
}

describe("npm publish", () => {
	it("publishes a version that installers can read back with matching integrity", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		const { tgz, sums } = await publishBody(name, "1.0.0");
		const res = await publish(name, "1.0.0", token);
		expect(res.status).toBe(201);
		expect(await res.json()).toMatchObject({ ok: true, id: name });

		const doc = await readPackument(name, token);
		expect(doc._id).toBe(name);
		expect(doc._rev).toMatch(/^\d+-[0-9a-f]+$/);
		expect(doc["dist-tags"]).toEqual({ latest: "1.0.0" });
		expect(doc.description).toBe(`${name} description`);
		const version = doc.versions["1.0.0"];
		expect(version?._id).toBe(`${name}@1.0.0`);
		expect(version?.dist).toEqual({
			integrity: sums.integrity,
			shasum: sums.shasum,
			tarball: `http://registry.test/${name}/-/${name}-1.0.0.tgz`,
			fileCount: 2,
			unpackedSize: expect.any(Number),
			// The registry's signature (#13): tests/signatures.test.ts verifies it.
			signatures: [{ keyid: expect.stringMatching(/^SHA256:/), sig: expect.any(String) }],
		});
		expect(version?._npmUser).toEqual({ name: "test", email: "" });
		expect(doc.maintainers).toEqual([{ name: "test", email: "" }]);
		expect(Object.keys(doc.time)).toEqual(["created", "modified", "1.0.0"]);

		const tarball = await call(`/${name}/-/${name}-1.0.0.tgz`, { token });
		expect(tarball.status).toBe(200);
		expect(tarball.headers.get("cache-control")).toBe("private, max-age=31536000, immutable");
		const bytes = new Uint8Array(await tarball.arrayBuffer());
		expect(bytes).toEqual(tgz);
		expect(await checksums(bytes)).toEqual(sums);
	});

	it("serves the abbreviated packument with only the install fields", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token, {
			manifest: { dependencies: { other: "^1.0.0" }, scripts: { postinstall: "node x" }, keywords: ["k"] },
		});
		const res = await packument(name, token, "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8");
		expect(res.headers.get("content-type")).toMatch(/^application\/vnd\.npm\.install-v1\+json/);
		const doc = (await res.json()) as Packument;
		expect(Object.keys(doc).sort()).toEqual(["dist-tags", "modified", "name", "versions"]);
		const v = doc.versions["1.0.0"];
		expect(v?.dependencies).toEqual({ other: "^1.0.0" });
		expect(v?.hasInstallScript).toBe(true);
		expect(v?.keywords).toBeUndefined();
		expect(v?.dist.tarball).toBe(`http://registry.test/${name}/-/${name}-1.0.0.tgz`);
	});

	it("accepts scoped names as @scope/name, @scope%2fname and @scope%2Fname", async () => {
		const scope = `@${uniqueName("s")}`;
		const name = `${scope}/widget`;
		const token = await publisherFor(scope);
		const { body } = await publishBody(name, "1.0.0", { access: "public" });
		const res = await call(`/${scope}%2Fwidget`, { method: "PUT", token, body: JSON.stringify(body) });
		expect(res.status).toBe(201);
		for (const path of [`/${scope}/widget`, `/${scope}%2fwidget`, `/${scope}%2Fwidget`]) {
			const doc = (await (await call(path)).json()) as Packument;
			expect(doc.name).toBe(name);
			expect(doc.versions["1.0.0"]?.dist.tarball).toBe(`http://registry.test/${name}/-/widget-1.0.0.tgz`);
		}
		for (const path of [`/${scope}/widget/-/widget-1.0.0.tgz`, `/${scope}%2fwidget/-/widget-1.0.0.tgz`]) {
			const res = await call(path);
			expect(res.status).toBe(200);
			expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
		}
	});

	it("answers If-None-Match with 304 until the package changes", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const first = await packument(name, token);
		const etag = first.headers.get("etag");
		expect(etag).toBeTruthy();
		expect(first.headers.get("last-modified")).toBeTruthy();
		const again = await call(`/${name}`, { token, headers: { "if-none-match": etag ?? "" } });
		expect(again.status).toBe(304);
		await publish(name, "1.0.1", token);
		const changed = await call(`/${name}`, { token, headers: { "if-none-match": etag ?? "" } });
		expect(changed.status).toBe(200);
		expect(changed.headers.get("etag")).not.toBe(etag);
	});

	it("serves one version by number, by tag and by range", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		await publish(name, "1.1.0", token);
		await publish(name, "2.0.0-beta.1", token, { tag: "beta" });
		const get = async (spec: string) => {
			const res = await call(`/${name}/${spec}`, { token });
			return res.status === 200 ? ((await res.json()) as { version: string }).version : res.status;
		};
		expect(await get("1.0.0")).toBe("1.0.0");
		expect(await get("latest")).toBe("1.1.0");
		expect(await get("beta")).toBe("2.0.0-beta.1");
		expect(await get("^1.0.0")).toBe("1.1.0");
		expect(await get("3.0.0")).toBe(404);
		expect(await get("nope")).toBe(404);
	});

	it("answers 404 not_found for a package that does not exist", async () => {
		const res = await call(`/${uniqueName()}`, { token: ADMIN });
		expect(res.status).toBe(404);
		expect(await res.json()).toMatchObject({ error: "not_found" });
	});

	it("sets the access level on first publish, defaulting to restricted", async () => {
		const restricted = uniqueName();
		const open = uniqueName();
		const token = (
			await createToken([
				{ package: restricted, permissions: ALL },
				{ package: open, permissions: ALL },
			])
		).token;
		await publish(restricted, "1.0.0", token);
		await publish(open, "1.0.0", token, { access: "public" });
		expect((await packument(restricted)).status).toBe(404);
		expect((await call(`/${restricted}/-/${restricted}-1.0.0.tgz`)).status).toBe(404);
		expect((await packument(restricted, token)).status).toBe(200);
		expect((await packument(open)).status).toBe(200);
		// --access on a later publish does not change an existing package
		await publish(restricted, "1.0.1", token, { access: "public" });
		expect((await packument(restricted)).status).toBe(404);
	});
});

describe("npm publish refusals", () => {
	it("refuses to publish over an existing version with npm's message", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.1.0", token);
		const { body } = await publishBody(name, "1.1.0", { files: { "other.js": "x" } });
		await expectRefusedPublish(
			name,
			token,
			body,
			403,
			/^You cannot publish over the previously published versions: 1\.1\.0\.$/,
		);
	});

	it("refuses a tarball whose sha512 does not match dist.integrity", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const other = await checksums(await gzipTar({ "package.json": "{}" }));
		const { body } = await publishBody(name, "1.0.1", { integrity: other.integrity });
		await expectRefusedPublish(name, token, body, 422, /dist\.integrity/);
	});

	it("refuses a tarball whose sha1 does not match dist.shasum", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const { body } = await publishBody(name, "1.0.1", { shasum: "0".repeat(40) });
		await expectRefusedPublish(name, token, body, 422, /dist\.shasum/);
	});

	it("refuses a tarball whose package.json names another package or version", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const wrongName = await publishBody(name, "1.0.1", { tarballName: "something-else" });
		await expectRefusedPublish(name, token, wrongName.body, 422, /package\.json is something-else@1\.0\.1/);
		const wrongVersion = await publishBody(name, "1.0.1", { tarballVersion: "9.9.9" });
		await expectRefusedPublish(name, token, wrongVersion.body, 422, /package\.json is .*@9\.9\.9/);
	});

	it("refuses malformed JSON, a wrong document name, and documents that are not one version", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const before = await revOf(name);
		const malformed = await call(`/${name}`, { method: "PUT", token, body: '{"name": ' });
		expect(malformed.status).toBe(400);
		expect(await malformed.json()).toMatchObject({ error: "request body is not valid JSON" });

		const { body } = await publishBody(name, "1.0.1");
		await expectRefusedPublish(name, token, { ...body, name: "other" }, 400, /is for "other"/);
		const two = await publishBody(name, "1.0.2");
		await expectRefusedPublish(
			name,
			token,
			{ ...body, versions: { ...body.versions, ...two.body.versions } },
			400,
			/exactly one version/,
		);
		await expectRefusedPublish(
			name,
			token,
			{ ...body, _attachments: { ...body._attachments, ...two.body._attachments } },
			400,
			/exactly one attachment/,
		);
		await expectRefusedPublish(name, token, { ...body, versions: "nope" }, 400, /versions/);
		const badVersion = await publishBody(name, "1.0");
		await expectRefusedPublish(name, token, badVersion.body, 400, /not a semver version/);
		expect(await revOf(name)).toBe(before);
	});

	it("refuses an attachment that is not a gzip tarball", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		const garbage = new TextEncoder().encode("this is not a tarball") as Uint8Array<ArrayBuffer>;
		const sums = await checksums(garbage);
		const { body } = await publishBody(name, "1.0.0");
		const bad = {
			...body,
			versions: { "1.0.0": { ...body.versions["1.0.0"], dist: sums } },
			_attachments: { [`${name}-1.0.0.tgz`]: { data: garbage.toBase64(), length: garbage.byteLength } },
		};
		await expectRefusedPublish(name, token, bad, 422, /not a valid gzip-compressed tar/);
		expect((await packument(name, token)).status).toBe(404);
	});

	it("refuses a body over the size limit with 413", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		const big = "x".repeat(Number(env.MAX_BODY_SIZE) + 1);
		const res = await call(`/${name}`, { method: "PUT", token, body: big });
		expect(res.status).toBe(413);
		expect((await res.json()) as object).toHaveProperty("error");
	});

	it.each([
		["../x", "%2e%2e%2fx"],
		["uppercase", "Uppercase"],
		["too long", "a".repeat(215)],
		["leading dot", ".hidden"],
		["space", "has%20space"],
	])("refuses an invalid package name (%s)", async (_label, path) => {
		const res = await call(`/${path}`, { method: "PUT", token: ADMIN, body: "{}" });
		expect(res.status).toBe(400);
		expect(((await res.json()) as { error: string }).error).toMatch(/invalid package name/);
	});

	it("needs a token, and a grant on the package or its scope", async () => {
		const scope = `@${uniqueName("s")}`;
		const name = `${scope}/thing`;
		const { body } = await publishBody(name, "1.0.0");
		const put = (token: string | null) =>
			call(`/${scope}%2fthing`, { method: "PUT", token, body: JSON.stringify(body) });

		const anonymous = await put(null);
		expect(anonymous.status).toBe(401);
		expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/);
		expect((await put("dev_0000000000000000000000000000000000")).status).toBe(401);
		expect((await put("not-a-registry-token")).status).toBe(401);

		// A new name without a grant: 403 naming the grant it needs, not npm's "not in this registry" 404 (#24.6).
		const otherScope = (await createToken([{ scope: "@elsewhere", permissions: ALL }])).token;
		const noGrant = await put(otherScope);
		expect(noGrant.status).toBe(403);
		expect(((await noGrant.json()) as { error: string }).error).toBe(
			`this token has no grant on ${name}: it needs publish permission on ${name} or on the scope ${scope}`,
		);
		const uploadOnly = (await createToken([{ scope, permissions: ["read", "upload"] }])).token;
		expect((await put(uploadOnly)).status).toBe(403);
		const customer = (await createToken([{ scope, permissions: ["read"] }], "customer")).token;
		expect((await put(customer)).status).toBe(403);
		expect((await packument(name, ADMIN)).status).toBe(404);

		expect((await put(await publisherFor(scope))).status).toBe(201);
		// Once the package exists (restricted), the same token hears the same words: nothing leaks (#24.6).
		const { body: next } = await publishBody(name, "1.0.1");
		const again = await call(`/${scope}%2fthing`, { method: "PUT", token: otherScope, body: JSON.stringify(next) });
		expect(again.status).toBe(403);
		expect(((await again.json()) as { error: string }).error).toBe(
			`this token has no grant on ${name}: it needs publish permission on ${name} or on the scope ${scope}`,
		);
	});

	it("never accepts a removed version number again", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		await publish(name, "1.0.1", token, { tag: "next" });
		await call(`/-/package/${name}/dist-tags/next`, { method: "DELETE", token });
		const doc = await readPackument(name, token);
		delete doc.versions["1.0.1"];
		const removed = await call(`/${name}/-rev/${doc._rev}`, { method: "PUT", token, body: JSON.stringify(doc) });
		expect(removed.status).toBe(200);
		const { body } = await publishBody(name, "1.0.1", { files: { "new.js": "1" } });
		await expectRefusedPublish(name, token, body, 403, /previously published versions: 1\.0\.1/);
	});

	it("lets exactly one of two concurrent publishes of the same version win", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		const a = await publishBody(name, "1.0.0", { files: { "a.js": "a" } });
		const b = await publishBody(name, "1.0.0", { files: { "b.js": "b" } });
		const results = await Promise.all(
			[a, b].map(({ body }) => call(`/${name}`, { method: "PUT", token, body: JSON.stringify(body) })),
		);
		expect(results.map((r) => r.status).sort()).toEqual([201, 403]);
		const winner = results[0]?.status === 201 ? a : b;
		const doc = await readPackument(name, token);
		expect(doc.versions["1.0.0"]?.dist.integrity).toBe(winner.sums.integrity);
		const bytes = new Uint8Array(await (await call(`/${name}/-/${name}-1.0.0.tgz`, { token })).arrayBuffer());
		expect((await checksums(bytes)).integrity).toBe(winner.sums.integrity);
	});
});
