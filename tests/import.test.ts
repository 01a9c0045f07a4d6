import { describe, expect, it } from "vitest";
import {
	ADMIN,
	ALL,
	call,
	createToken,
	packument,
	publish,
	publisherFor,
	readPackument,
	uniqueName,
} from "./helpers/registry";
import { type ListedKey, type Signature, verifies } from "./helpers/signatures";
import { checksums, gzipTar } from "./helpers/tarball";

// The admin import API (#18): what `npm run migrate` copies packages in with. A version keeps the
// source's time, publisher and deprecation; the metadata step sets dist-tags, times, maintainers
// and unpublished numbers. Bytes are checked against the source's integrity, never overwritten.

type SourceVersion = {
	version: string;
	time: string;
	deprecated?: string;
	readme?: string;
	/** What the source's document claims; the tarball's package.json may say otherwise. */
	manifest?: Record<string, unknown>;
	packageJson?: Record<string, unknown>;
	integrity?: string;
	shasum?: string;
};

async function sourceVersion(name: string, source: SourceVersion) {
	const packageJson = { name, version: source.version, license: "MIT", main: "index.js", ...source.packageJson };
	const tgz = await gzipTar({
		"package.json": JSON.stringify(packageJson),
		"index.js": `export const version = ${JSON.stringify(source.version)};\n`,
		...(source.readme ? { "README.md": source.readme } : {}),
	});
	const sums = await checksums(tgz);
	const body = {
		name,
		versions: {
			[source.version]: {
				...packageJson,
				description: `${name} from elsewhere`,
				...source.manifest,
				_npmUser: { name: "original-publisher", email: "original@example.com" },
				...(source.deprecated ? { deprecated: source.deprecated } : {}),
				dist: {
					integrity: source.integrity ?? sums.integrity,
					shasum: source.shasum ?? sums.shasum,
					tarball: `http://source.test/${name}/-/${name}-${source.version}.tgz`,
				},
			},
		},
		time: { [source.version]: source.time },
		_attachments: {
			[`${name}-${source.version}.tgz`]: { data: tgz.toBase64(), length: tgz.byteLength },
		},
	};
	return { body, sums };
}

async function importVersion(name: string, source: SourceVersion, token: string | null = ADMIN) {
	const { body } = await sourceVersion(name, source);
	return call(`/-/admin/import/${name}`, { method: "PUT", token, body: JSON.stringify(body) });
}

function importMetadata(name: string, metadata: Record<string, unknown>, token: string | null = ADMIN) {
	return call(`/-/admin/import/${name}/-/metadata`, { method: "PUT", token, body: JSON.stringify(metadata) });
}

async function listedKeys(): Promise<ListedKey[]> {
	return ((await (await call("/-/npm/v1/keys")).json()) as { keys: ListedKey[] }).keys;
}

describe("admin import API (#18)", () => {
	it("keeps each version's time, its deprecation, its publisher and README, and moves no tag by itself", async () => {
		const name = uniqueName("imported");
		const first = await importVersion(name, {
			version: "1.0.0",
			time: "2021-03-04T05:06:07.000Z",
			readme: "# Hello from 1.0.0",
		});
		expect(first.status).toBe(201);
		expect(await first.json()).toMatchObject({ ok: true, id: name, version: "1.0.0", status: "copied" });
		const second = await importVersion(name, {
			version: "2.0.0",
			time: "2022-05-06T07:08:09.123Z",
			deprecated: "use 3",
			readme: "# Hello from 2.0.0",
		});
		expect(second.status).toBe(201);

		const doc = await readPackument(name);
		expect(doc.time["1.0.0"]).toBe("2021-03-04T05:06:07.000Z");
		expect(doc.time["2.0.0"]).toBe("2022-05-06T07:08:09.123Z");
		expect(doc.time.created).toBe("2021-03-04T05:06:07.000Z");
		expect(doc.versions["2.0.0"]?.deprecated).toBe("use 3");
		expect(doc.versions["1.0.0"]?.deprecated).toBeUndefined();
		expect(doc.versions["1.0.0"]?._npmUser).toEqual({ name: "original-publisher", email: "original@example.com" });
		expect(doc.versions["1.0.0"]?.license).toBe("MIT");
		expect(doc["dist-tags"]).toEqual({});
		// The readme of the version the packument shows: the last until `latest` says otherwise.
		expect(doc.readme).toBe("# Hello from 2.0.0");
	});

	it("sets dist-tags as channel moves with history, created/modified and maintainers in the metadata step", async () => {
		const name = uniqueName("imported");
		for (const [version, time] of [
			["1.0.0", "2020-01-01T00:00:00.000Z"],
			["1.1.0", "2020-02-01T00:00:00.000Z"],
			["2.0.0-beta.1", "2020-03-01T00:00:00.000Z"],
		] as const) {
			expect((await importVersion(name, { version, time, readme: `# ${version}` })).status).toBe(201);
		}
		const res = await importMetadata(name, {
			"dist-tags": { beta: "2.0.0-beta.1", latest: "1.0.0", gone: "9.9.9" },
			created: "2019-12-31T23:00:00.000Z",
			modified: "2020-03-02T00:00:00.000Z",
			maintainers: [{ name: "alice", email: "alice@example.com" }, { name: "bob" }],
		});
		expect(res.status).toBe(200);
		expect(await res.json()).toMatchObject({
			moved: ["latest", "beta"],
			skipped: [{ tag: "gone", version: "9.9.9", reason: "version 9.9.9 is not here" }],
		});

		const doc = await readPackument(name);
		expect(doc["dist-tags"]).toEqual({ latest: "1.0.0", beta: "2.0.0-beta.1" });
		expect(doc.time.created).toBe("2019-12-31T23:00:00.000Z");
		expect(doc.time.modified).toBe("2020-03-02T00:00:00.000Z");
		expect(doc.maintainers).toEqual([
			{ name: "alice", email: "alice@example.com" },
			{ name: "bob", email: "" },
		]);
		// `latest` decides the README and the package-level fields npm shows.
		expect(doc.readme).toBe("# 1.0.0");
		const history = await call(`/packages/${name}/channels/beta/history`, { token: ADMIN });
		const { history: entries } = (await history.json()) as { history: { version: string }[] };
		expect(entries.map((e) => e.version)).toEqual(["2.0.0-beta.1"]);
	});

	it("keeps a README only the source's document has when the tarball has none", async () => {
		const name = uniqueName("imported");
		await importVersion(name, {
			version: "1.0.0",
			time: "2021-01-01T00:00:00.000Z",
			manifest: { readme: "# from the document", readmeFilename: "README.md" },
		});
		const doc = await readPackument(name);
		expect(doc.readme).toBe("# from the document");
	});

	it("signs imported versions with this registry's key", async () => {
		const name = uniqueName("imported");
		await importVersion(name, { version: "1.0.0", time: "2021-01-01T00:00:00.000Z" });
		const doc = await readPackument(name);
		const dist = doc.versions["1.0.0"]?.dist as unknown as { integrity: string; signatures: Signature[] };
		const [signature] = dist.signatures;
		expect(signature).toBeDefined();
		expect(await verifies(await listedKeys(), signature as Signature, `${name}@1.0.0:${dist.integrity}`)).toBe(true);
	});

	it("takes install fields from the tarball's package.json, whatever the source's document says", async () => {
		const name = uniqueName("imported");
		await importVersion(name, {
			version: "1.0.0",
			time: "2021-01-01T00:00:00.000Z",
			packageJson: { dependencies: { real: "^1.0.0" } },
			manifest: { dependencies: { claimed: "^2.0.0" } },
		});
		const doc = await readPackument(name);
		expect(doc.versions["1.0.0"]?.dependencies).toEqual({ real: "^1.0.0" });
	});

	it("refuses bytes that do not match the source's integrity, and stores nothing", async () => {
		const name = uniqueName("imported");
		const other = await checksums(await gzipTar({ "package.json": "{}" }));
		const bySha512 = await importVersion(name, {
			version: "1.0.0",
			time: "2021-01-01T00:00:00.000Z",
			integrity: other.integrity,
		});
		expect(bySha512.status).toBe(422);
		expect(await bySha512.json()).toMatchObject({ code: "integrityMismatch" });
		const byShasum = await importVersion(name, {
			version: "1.0.0",
			time: "2021-01-01T00:00:00.000Z",
			integrity: "",
			shasum: other.shasum,
		});
		expect(byShasum.status).toBe(422);
		expect((await packument(name, ADMIN)).status).toBe(404);
	});

	it("checks a source that names only a sha1 integrity against it", async () => {
		const name = uniqueName("imported");
		const { sums } = await sourceVersion(name, { version: "1.0.0", time: "2021-01-01T00:00:00.000Z" });
		const sha1 = `sha1-${Uint8Array.fromHex(sums.shasum).toBase64()}`;
		const wrong = `sha1-${new Uint8Array(20).toBase64()}`;
		const refused = await importVersion(name, {
			version: "1.0.0",
			time: "2021-01-01T00:00:00.000Z",
			integrity: wrong,
			shasum: "",
		});
		expect(refused.status).toBe(422);
		const taken = await importVersion(name, {
			version: "1.0.0",
			time: "2021-01-01T00:00:00.000Z",
			integrity: sha1,
			shasum: "",
		});
		expect(taken.status).toBe(201);
	});

	it("is idempotent: a version here with the same integrity is present, nothing is written twice", async () => {
		const name = uniqueName("imported");
		const source = { version: "1.0.0", time: "2021-01-01T00:00:00.000Z", deprecated: "old" };
		expect((await importVersion(name, source)).status).toBe(201);
		const metadata = { "dist-tags": { latest: "1.0.0" }, modified: "2021-01-02T00:00:00.000Z" };
		expect((await importMetadata(name, metadata)).status).toBe(200);
		const before = await readPackument(name);

		const again = await importVersion(name, source);
		expect(again.status).toBe(200);
		expect(await again.json()).toMatchObject({ status: "present", rev: before._rev });
		const metadataAgain = await importMetadata(name, metadata);
		expect(await metadataAgain.json()).toMatchObject({ moved: [], unchanged: ["latest"], rev: before._rev });
		const after = await readPackument(name);
		expect(after._rev).toBe(before._rev);
		expect(after.time).toEqual(before.time);
		const history = await call(`/packages/${name}/channels/latest/history`, { token: ADMIN });
		expect(((await history.json()) as { history: unknown[] }).history).toHaveLength(1);
	});

	it("reports a version here with other bytes as a conflict and never overwrites it", async () => {
		const name = uniqueName("imported");
		const token = await publisherFor(name);
		expect((await publish(name, "1.0.0", token)).status).toBe(201);
		const before = await readPackument(name);

		const res = await importVersion(name, { version: "1.0.0", time: "2021-01-01T00:00:00.000Z" });
		expect(res.status).toBe(409);
		expect(await res.json()).toMatchObject({ code: "conflict" });
		const after = await readPackument(name);
		expect(after.versions["1.0.0"]?.dist.integrity).toBe(before.versions["1.0.0"]?.dist.integrity);
		expect(after._rev).toBe(before._rev);
	});

	it("keeps the numbers the source unpublished taken: neither an import nor a publish reuses them", async () => {
		const name = uniqueName("imported");
		await importVersion(name, { version: "1.0.0", time: "2021-01-01T00:00:00.000Z" });
		const res = await importMetadata(name, { "dist-tags": { latest: "1.0.0" }, unpublished: ["1.0.1"] });
		expect(res.status).toBe(200);
		const reimport = await importVersion(name, { version: "1.0.1", time: "2021-01-02T00:00:00.000Z" });
		expect(reimport.status).toBe(400);
		expect((await publish(name, "1.0.1", await publisherFor(name))).status).toBe(403);
		const audit = await call(`/packages/${name}/audit`, { token: ADMIN });
		const { entries } = (await audit.json()) as { entries: { action: string }[] };
		expect(entries.map((e) => e.action)).toContain("import.metadata");
	});

	it("brings deprecations made at the source since the versions came in, and only changes what differs", async () => {
		const name = uniqueName("imported");
		await importVersion(name, { version: "1.0.0", time: "2021-01-01T00:00:00.000Z", deprecated: "old" });
		await importVersion(name, { version: "1.1.0", time: "2021-02-01T00:00:00.000Z" });
		const res = await importMetadata(name, {
			"dist-tags": { latest: "1.1.0" },
			deprecated: { "1.0.0": "", "1.1.0": "use 2", "9.0.0": "not here" },
		});
		expect(await res.json()).toMatchObject({ deprecationsChanged: ["1.0.0", "1.1.0"] });
		const doc = await readPackument(name);
		expect(doc.versions["1.0.0"]?.deprecated).toBeUndefined();
		expect(doc.versions["1.1.0"]?.deprecated).toBe("use 2");
	});

	it("sets latest to the highest stable version when the source names none that is here", async () => {
		const name = uniqueName("imported");
		for (const version of ["1.0.0", "1.2.0", "2.0.0-rc.1"]) {
			await importVersion(name, { version, time: "2021-01-01T00:00:00.000Z" });
		}
		const res = await importMetadata(name, { "dist-tags": { next: "2.0.0-rc.1" } });
		expect(res.status).toBe(200);
		expect((await readPackument(name))["dist-tags"]).toEqual({ latest: "1.2.0", next: "2.0.0-rc.1" });
	});

	it("refuses a version without its publish time, or without the source's checksums, and stores nothing", async () => {
		const name = uniqueName("imported");
		const { body } = await sourceVersion(name, { version: "1.0.0", time: "2021-01-01T00:00:00.000Z" });
		const put = (doc: unknown) =>
			call(`/-/admin/import/${name}`, { method: "PUT", token: ADMIN, body: JSON.stringify(doc) });
		const untimed = await put({ ...body, time: {} });
		expect(untimed.status).toBe(400);
		expect(await untimed.json()).toMatchObject({ error: expect.stringMatching(/time\["1\.0\.0"\]/) });
		const manifest = body.versions["1.0.0"];
		const unchecked = await put({ ...body, versions: { "1.0.0": { ...manifest, dist: {} } } });
		expect(unchecked.status).toBe(400);
		expect((await packument(name, ADMIN)).status).toBe(404);
	});

	it("is reached by admins only", async () => {
		const name = uniqueName("imported");
		const source = { version: "1.0.0", time: "2021-01-01T00:00:00.000Z" };
		expect((await importVersion(name, source, null)).status).toBe(401);
		const developer = (await createToken([{ package: name, permissions: ALL }])).token;
		expect((await importVersion(name, source, developer)).status).toBe(403);
		expect((await importMetadata(name, { "dist-tags": {} }, developer)).status).toBe(403);
		expect((await packument(name, ADMIN)).status).toBe(404);
		const adm = (await createToken([], "admin")).token;
		expect((await importVersion(name, source, adm)).status).toBe(201);
	});

	it("imports scoped packages", async () => {
		const name = `@imports/${uniqueName("scoped")}`;
		const { body } = await sourceVersion(name, { version: "1.0.0", time: "2021-01-01T00:00:00.000Z" });
		const res = await call(`/-/admin/import/${name.replace("/", "%2f")}`, {
			method: "PUT",
			token: ADMIN,
			body: JSON.stringify(body),
		});
		expect(res.status).toBe(201);
		const meta = await importMetadata(name, { "dist-tags": { latest: "1.0.0" } });
		expect(meta.status).toBe(200);
		expect((await readPackument(name))["dist-tags"]).toEqual({ latest: "1.0.0" });
	});
});
