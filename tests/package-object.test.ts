import { describe, expect, it } from "vitest";
import { actorNamed, packageStub, publishInput } from "./helpers/package-object";
import { uniqueName } from "./helpers/registry";

// The package object through its RPC contract (schema/package/contract.ts), as the Worker calls
// it: every rule about one package, without HTTP, tokens or R2.

const alice = actorNamed("alice");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A fresh package with these versions published in order, each moving `latest`. */
async function packageWith(versions: string[], access: "public" | "restricted" = "public") {
	const name = uniqueName("obj");
	const stub = packageStub(name);
	for (const version of versions) {
		const published = await stub.publish(publishInput(name, version, { access }));
		if (!published.ok) throw new Error(published.message);
	}
	return { name, stub };
}

/** The value of a Result, failing the test with the refusal otherwise. */
function value<T>(result: { ok: true; value: T } | { ok: false; code: string; message: string }): T {
	if (!result.ok) throw new Error(`refused: ${result.code} ${result.message}`);
	return result.value;
}

async function rev(stub: ReturnType<typeof packageStub>): Promise<string> {
	return value(await stub.info()).rev;
}

describe("publish", () => {
	it("creates the package on the first version with the access asked for, and keeps it after", async () => {
		const name = uniqueName("obj");
		const stub = packageStub(name);
		const first = value(await stub.publish(publishInput(name, "1.0.0", { access: "restricted" })));
		expect(first).toEqual({
			versionId: expect.stringMatching(UUID),
			packageId: expect.stringMatching(UUID),
			channelsMoved: ["latest"],
			rev: expect.stringMatching(/^1-[0-9a-f]{32}$/),
		});
		const second = value(await stub.publish(publishInput(name, "2.0.0", { access: "public" })));
		expect(second.packageId).toBe(first.packageId);
		expect(second.rev).toMatch(/^2-/);
		expect(await stub.info()).toEqual({
			ok: true,
			value: { access: "restricted", packageId: first.packageId, name, requireTwoFactor: false, rev: second.rev },
		});
	});

	it("points every tag it is given at the new version; without tags it is an upload that moves nothing", async () => {
		const { name, stub } = await packageWith(["1.0.0"]);
		await stub.publish(publishInput(name, "2.0.0-beta.1", { tags: ["next", "beta"] }));
		await stub.publish(publishInput(name, "2.0.0-beta.2", { tags: [] }));
		expect(value(await stub.distTags()).tags).toEqual({ latest: "1.0.0", next: "2.0.0-beta.1", beta: "2.0.0-beta.1" });
		expect(value(await stub.versions()).versions.map((v) => v.version)).toEqual([
			"1.0.0",
			"2.0.0-beta.1",
			"2.0.0-beta.2",
		]);
		const actions = value(await stub.auditLog({})).entries.map((e) => [e.action, e.target]);
		expect(actions).toEqual([
			["upload", "2.0.0-beta.2"],
			["publish", "2.0.0-beta.1"],
			["publish", "1.0.0"],
		]);
	});

	it("refuses a version number that exists, leaving the package as it was", async () => {
		const { name, stub } = await packageWith(["1.0.0"]);
		const before = await rev(stub);
		expect(await stub.publish(publishInput(name, "1.0.0", { tags: ["other"] }))).toEqual({
			ok: false,
			code: "versionExists",
			message: "You cannot publish over the previously published versions: 1.0.0.",
		});
		expect(await rev(stub)).toBe(before);
		expect(value(await stub.distTags()).tags).toEqual({ latest: "1.0.0" });
	});

	it("lets exactly one of two concurrent publishes of one version through", async () => {
		const name = uniqueName("obj");
		const stub = packageStub(name);
		const outcomes = await Promise.all([
			stub.publish(publishInput(name, "1.0.0", { tarball: { key: "a", integrity: "sha512-a", shasum: "a", size: 1 } })),
			stub.publish(publishInput(name, "1.0.0", { tarball: { key: "b", integrity: "sha512-b", shasum: "b", size: 1 } })),
		]);
		expect(outcomes.map((o) => (o.ok ? "ok" : o.code)).sort()).toEqual(["ok", "versionExists"]);
		const winner = outcomes[0]?.ok ? "a" : "b";
		expect(value(await stub.tarball("1.0.0", { count: false, mayReadRestricted: true })).key).toBe(winner);
	});

	it("records the publisher as a maintainer and in the version document", async () => {
		const { name, stub } = await packageWith(["1.0.0"]);
		await stub.publish(publishInput(name, "1.1.0", { actor: actorNamed("bob") }));
		expect(value(await stub.maintainers()).maintainers).toEqual([
			{ name: "alice", email: "alice@example.com" },
			{ name: "bob", email: "bob@example.com" },
		]);
		const doc = JSON.parse(value(await stub.versionDocument("1.1.0")).body) as Record<string, unknown>;
		expect(doc._npmUser).toEqual({ name: "bob", email: "bob@example.com" });
	});
});

describe("reads", () => {
	type Stub = ReturnType<typeof packageStub>;
	const reads: [string, (stub: Stub) => Promise<unknown>][] = [
		["info", (s) => s.info()],
		["packument", (s) => s.packument("full", null)],
		["versionDocument", (s) => s.versionDocument("1.0.0")],
		["tarball", (s) => s.tarball("1.0.0", { count: true, mayReadRestricted: true })],
		["file", (s) => s.file("1.0.0", "index.js")],
		["downloadCounts", (s) => s.downloadCounts("2026-01-01", "2026-01-31")],
		["maintainers", (s) => s.maintainers()],
		["distTags", (s) => s.distTags()],
		["channels", (s) => s.channels()],
		["channel", (s) => s.channel("latest")],
		["channelHistory", (s) => s.channelHistory("latest")],
		["versions", (s) => s.versions()],
		["version", (s) => s.version({ version: "1.0.0" })],
		["searchDocument", (s) => s.searchDocument()],
		["auditLog", (s) => s.auditLog({})],
	];

	it.each(reads)(
		"%s refuses a package that was never published as notFound, without its access",
		async (_name, read) => {
			expect(await read(packageStub(uniqueName("never")))).toStrictEqual({
				ok: false,
				code: "notFound",
				message: "not_found",
			});
		},
	);

	it.each(reads.filter(([name]) => name !== "auditLog"))(
		"%s refuses a fully unpublished package as notFound",
		async (_name, read) => {
			const { stub } = await packageWith(["1.0.0"]);
			value(await stub.unpublishPackage(await rev(stub), false, alice));
			expect(await read(stub)).toStrictEqual({ ok: false, code: "notFound", message: "not_found" });
		},
	);

	it.each<[string, (stub: Stub) => Promise<unknown>, string]>([
		["versionDocument", (s) => s.versionDocument("9.9.9"), "version 9.9.9 not found"],
		["versionDocument of an unknown tag", (s) => s.versionDocument("nope"), "version nope not found"],
		["tarball", (s) => s.tarball("9.9.9", { count: true, mayReadRestricted: true }), "version 9.9.9 not found"],
		["file of an unknown version", (s) => s.file("9.9.9", "index.js"), "not_found"],
		["file of an unknown path", (s) => s.file("1.0.0", "missing.js"), "not_found"],
		["channel", (s) => s.channel("nope"), 'channel "nope" does not exist'],
		["channelHistory", (s) => s.channelHistory("nope"), 'channel "nope" does not exist'],
		["version by number", (s) => s.version({ version: "9.9.9" }), "version 9.9.9 not found"],
		["version by id", (s) => s.version({ versionId: "no-such-id" }), "version no-such-id not found"],
	])("%s inside an existing package refuses with the package's access", async (_name, read, message) => {
		for (const access of ["public", "restricted"] as const) {
			const { stub } = await packageWith(["1.0.0"], access);
			expect(await read(stub)).toStrictEqual({ ok: false, code: "notFound", message, access });
		}
	});

	it("answers every read with the package's access", async () => {
		const { stub } = await packageWith(["1.0.0"], "restricted");
		for (const answer of [
			await stub.packument("abbreviated", null),
			await stub.versionDocument("latest"),
			await stub.tarball("1.0.0", { count: false, mayReadRestricted: false }),
			await stub.file("1.0.0", "index.js"),
			await stub.distTags(),
			await stub.channel("latest"),
			await stub.versions(),
		]) {
			expect(answer).toMatchObject({ ok: true, value: { access: "restricted" } });
		}
	});

	it.each([
		["1.2.0", "1.2.0"],
		["latest", "2.0.0"],
		["beta", "1.2.0"],
		["^1.0.0", "1.2.0"],
		["1.x", "1.2.0"],
		["*", "2.0.0"],
		[">=3", null],
		["not a range", null],
	])("resolves the version document for %j to %j", async (spec, expected) => {
		const { name, stub } = await packageWith(["1.0.0", "1.2.0", "2.0.0"]);
		await stub.moveChannel("beta", { version: "1.2.0" }, alice);
		const doc = await stub.versionDocument(spec);
		expect(doc.ok ? (JSON.parse(doc.value.body) as { version: string }).version : null).toBe(expected);
		if (doc.ok) expect(doc.value.body).toContain(`${doc.value.placeholder}/${name}/-/${name}-${expected}.tgz`);
	});

	it("answers a stored packument without its body when the caller's ETag is current", async () => {
		const { name, stub } = await packageWith(["1.0.0"]);
		const full = value(await stub.packument("full", null));
		const abbreviated = value(await stub.packument("abbreviated", null));
		expect(full.etag).not.toBe(abbreviated.etag);
		expect(JSON.parse(full.body ?? "")).toMatchObject({ name, _rev: await rev(stub) });
		expect(JSON.parse(abbreviated.body ?? "")).not.toHaveProperty("_rev");
		expect(value(await stub.packument("full", full.etag)).body).toBeNull();
		expect(value(await stub.packument("full", `W/${full.etag}, "other"`)).body).toBeNull();
		expect(value(await stub.packument("full", abbreviated.etag)).body).not.toBeNull();
		await stub.publish(publishInput(name, "1.0.1"));
		const after = value(await stub.packument("full", full.etag));
		expect(after.body).not.toBeNull();
		expect(after.etag).not.toBe(full.etag);
	});

	it("locates a version's tarball and its files in the bundle", async () => {
		const { name, stub } = await packageWith(["1.0.0"]);
		expect(value(await stub.tarball("1.0.0", { count: false, mayReadRestricted: false }))).toEqual({
			key: `tarballs/${name}/1.0.0/t.tgz`,
			size: 10,
			integrity: "sha512-1.0.0",
			access: "public",
			rev: expect.any(String),
		});
		expect(value(await stub.file("1.0.0", "index.js"))).toEqual({
			key: `files/${name}/1.0.0/f.bin`,
			file: { path: "index.js", offset: 0, size: 10, sha256: "0".repeat(64) },
			access: "public",
			rev: expect.any(String),
		});
	});

	it("counts a download only when asked to and when the caller may read the package", async () => {
		const day = new Date().toISOString().slice(0, 10);
		const counted = async (access: "public" | "restricted", count: boolean, mayReadRestricted: boolean) => {
			const { stub } = await packageWith(["1.0.0"], access);
			await stub.tarball("1.0.0", { count, mayReadRestricted });
			return value(await stub.downloadCounts(day, day)).perVersion["1.0.0"] ?? 0;
		};
		expect(await counted("public", true, false)).toBe(1);
		expect(await counted("public", false, true)).toBe(0);
		expect(await counted("restricted", true, true)).toBe(1);
		expect(await counted("restricted", true, false)).toBe(0);
	});

	it("finds the first version number never taken, counting removed ones as taken", async () => {
		const { stub } = await packageWith(["1.0.0", "1.0.1", "1.0.2"]);
		value(await stub.deleteVersion({ version: "1.0.1" }, true, alice));
		expect(await stub.firstFreeVersion(["1.0.0", "1.0.1", "1.0.3", "1.0.4"])).toBe("1.0.3");
		expect(await stub.firstFreeVersion(["1.0.0", "1.0.1"])).toBeNull();
		expect(await packageStub(uniqueName("never")).firstFreeVersion(["1.0.0"])).toBe("1.0.0");
	});
});

describe("deprecate and unpublish versions (update)", () => {
	const update = (
		versions: Record<string, { deprecated?: string }>,
		extra: { rev?: string | null; removeMissing?: boolean; force?: boolean } = {},
	) => ({
		rev: extra.rev ?? null,
		versions,
		removeMissing: extra.removeMissing ?? false,
		force: extra.force ?? false,
		actor: alice,
	});

	it("sets, keeps and clears deprecation messages", async () => {
		const { stub } = await packageWith(["1.0.0", "1.1.0"]);
		const deprecated = async () => value(await stub.versions()).versions.map((v) => [v.version, v.deprecated]);
		value(await stub.update(update({ "1.0.0": { deprecated: "use 1.1.0" }, "1.1.0": {} })));
		expect(await deprecated()).toEqual([
			["1.0.0", "use 1.1.0"],
			["1.1.0", null],
		]);
		value(await stub.update(update({ "1.0.0": {}, "1.1.0": { deprecated: "also old" } })));
		expect(await deprecated()).toEqual([
			["1.0.0", "use 1.1.0"],
			["1.1.0", "also old"],
		]);
		value(await stub.update(update({ "1.0.0": { deprecated: "" } })));
		expect(await deprecated()).toEqual([
			["1.0.0", null],
			["1.1.0", "also old"],
		]);
		const doc = JSON.parse(value(await stub.versionDocument("1.1.0")).body) as { deprecated?: string };
		expect(doc.deprecated).toBe("also old");
	});

	it("refuses versions it does not have: never published, or unpublished for good", async () => {
		const { stub } = await packageWith(["1.0.0", "1.1.0"]);
		value(await stub.deleteVersion({ version: "1.0.0" }, true, alice));
		expect(await stub.update(update({ "1.1.0": {}, "2.0.0": {} }))).toEqual({
			ok: false,
			code: "badRequest",
			message: "version 2.0.0 cannot be added without its tarball attachment",
		});
		expect(await stub.update(update({ "1.1.0": {}, "1.0.0": {} }))).toEqual({
			ok: false,
			code: "badRequest",
			message: "version 1.0.0 was unpublished and cannot come back",
		});
	});

	it("removes the versions missing from the document only at the current revision", async () => {
		const { name, stub } = await packageWith(["1.0.0", "1.1.0"]);
		await stub.moveChannel("latest", { version: "1.1.0" }, alice);
		const current = await rev(stub);
		// Without removeMissing (npm deprecate), a partial document removes nothing.
		value(await stub.update(update({ "1.1.0": {} }, { rev: "0-stale" })));
		expect(await stub.update(update({ "1.1.0": {} }, { rev: current, removeMissing: true }))).toEqual({
			ok: false,
			code: "revisionMismatch",
			message: `document update conflict: _rev ${current} is not current`,
		});
		const removed = value(
			await stub.update(update({ "1.1.0": {} }, { rev: await rev(stub), removeMissing: true, force: true })),
		);
		expect(removed.removedKeys).toEqual([`tarballs/${name}/1.0.0/t.tgz`, `files/${name}/1.0.0/f.bin`]);
		expect(await stub.version({ version: "1.0.0" })).toMatchObject({ ok: false, code: "notFound" });
		expect(await stub.publish(publishInput(name, "1.0.0"))).toMatchObject({ ok: false, code: "versionExists" });
	});

	it("refuses to remove every version (that is unpublishing the package)", async () => {
		const { stub } = await packageWith(["1.0.0"]);
		expect(await stub.update(update({}, { rev: await rev(stub), removeMissing: true, force: true }))).toEqual({
			ok: false,
			code: "badRequest",
			message: "a document update cannot remove every version; unpublish the package",
		});
	});

	it("refuses to remove a version channel history protects unless forced", async () => {
		const { stub } = await packageWith(["1.0.0", "2.0.0"]);
		await stub.moveChannel("stable", { version: "1.0.0" }, alice);
		const refused = await stub.update(update({ "2.0.0": {} }, { rev: await rev(stub), removeMissing: true }));
		expect(refused).toMatchObject({ ok: false, code: "protectedVersion" });
		expect(value(await stub.versions()).versions).toHaveLength(2);
	});
});

describe("unpublishing the package", () => {
	it("checks the revision, removes every version and their channels, and answers every key", async () => {
		const { name, stub } = await packageWith(["1.0.0", "2.0.0"]);
		await stub.moveChannel("stable", { version: "1.0.0" }, alice);
		expect(await stub.unpublishPackage("1-stale", true, alice)).toMatchObject({ ok: false, code: "revisionMismatch" });
		// Pages may be loading it through "stable": refused unless forced (#13).
		expect(await stub.unpublishPackage(await rev(stub), false, alice)).toMatchObject({
			ok: false,
			code: "protectedVersion",
		});
		const removed = value(await stub.unpublishPackage(await rev(stub), true, alice));
		expect(removed.removedKeys.sort()).toEqual(
			[
				`files/${name}/1.0.0/f.bin`,
				`files/${name}/2.0.0/f.bin`,
				`tarballs/${name}/1.0.0/t.tgz`,
				`tarballs/${name}/2.0.0/t.tgz`,
			].sort(),
		);
		expect(await stub.info()).toStrictEqual({ ok: false, code: "notFound", message: "not_found" });
	});

	it("keeps the audit trail and the numbers: a later publish revives the package with fresh channels", async () => {
		const { name, stub } = await packageWith(["1.0.0"]);
		await stub.moveChannel("stable", { version: "1.0.0" }, alice);
		value(await stub.unpublishPackage(await rev(stub), true, alice));
		expect(value(await stub.auditLog({ limit: 1 })).entries.map((e) => [e.action, e.target])).toEqual([
			["unpublish", "*"],
		]);
		expect(await stub.publish(publishInput(name, "1.0.0"))).toMatchObject({ ok: false, code: "versionExists" });
		value(await stub.publish(publishInput(name, "2.0.0")));
		expect(value(await stub.distTags()).tags).toEqual({ latest: "2.0.0" });
		expect(value(await stub.channelHistory("latest")).entries.map((e) => e.version)).toEqual(["2.0.0"]);
	});
});

describe("removing a tarball (the second half of npm unpublish pkg@version)", () => {
	it("removes the version at the current revision and answers its keys", async () => {
		const { name, stub } = await packageWith(["1.0.0", "1.1.0"]);
		expect(await stub.removeTarball("1.0.0", "1-stale", true, alice)).toMatchObject({
			ok: false,
			code: "revisionMismatch",
		});
		const removed = value(await stub.removeTarball("1.0.0", await rev(stub), true, alice));
		expect(removed.removedKeys).toEqual([`tarballs/${name}/1.0.0/t.tgz`, `files/${name}/1.0.0/f.bin`]);
	});

	it("answers a version already removed with nothing to delete and no new revision", async () => {
		const { stub } = await packageWith(["1.0.0", "1.1.0"]);
		value(await stub.deleteVersion({ version: "1.0.0" }, true, alice));
		const before = await rev(stub);
		expect(await stub.removeTarball("1.0.0", "any-rev", false, alice)).toEqual({
			ok: true,
			value: { removedKeys: [], rev: before },
		});
		expect(await rev(stub)).toBe(before);
	});

	it("refuses a version that never existed", async () => {
		const { stub } = await packageWith(["1.0.0"]);
		expect(await stub.removeTarball("9.9.9", await rev(stub), true, alice)).toStrictEqual({
			ok: false,
			code: "notFound",
			message: "version 9.9.9 not found",
		});
	});
});

describe("deleting a version (channels API)", () => {
	it("deletes by number or versionId, refusing unknown versions and the only one", async () => {
		const { name, stub } = await packageWith(["1.0.0", "1.1.0", "1.2.0"]);
		await stub.moveChannel("latest", { version: "1.2.0" }, alice);
		const v1 = value(await stub.version({ version: "1.0.0" }));
		expect(value(await stub.deleteVersion({ versionId: v1.versionId }, true, alice))).toMatchObject({
			version: "1.0.0",
			removedKeys: [`tarballs/${name}/1.0.0/t.tgz`, `files/${name}/1.0.0/f.bin`],
		});
		expect(value(await stub.deleteVersion({ version: "1.1.0" }, true, alice)).version).toBe("1.1.0");
		expect(await stub.deleteVersion({ version: "9.9.9" }, true, alice)).toMatchObject({ ok: false, code: "notFound" });
		expect(await stub.deleteVersion({ version: "1.2.0" }, true, alice)).toEqual({
			ok: false,
			code: "conflict",
			message: "this is the only version: unpublish the package instead",
		});
	});

	it("refuses a version in a channel's last 10 entries unless forced, naming the channels and the package (#24.6)", async () => {
		const { name, stub } = await packageWith(["1.0.0", "2.0.0"]);
		await stub.moveChannel("stable", { version: "1.0.0" }, alice);
		await stub.moveChannel("beta", { version: "1.0.0" }, alice);
		await stub.moveChannel("beta", { version: "2.0.0" }, alice);
		const before = await rev(stub);
		expect(await stub.deleteVersion({ version: "1.0.0" }, false, alice)).toEqual({
			ok: false,
			code: "protectedVersion",
			message:
				'version 1.0.0 is protected: channels "beta" and "stable" point at it or may roll back to it; move or roll them to another version first, or delete the version anyway with DELETE /packages/' +
				name +
				"/versions/1.0.0?force=true",
		});
		expect(await rev(stub)).toBe(before);
		value(await stub.deleteVersion({ version: "1.0.0" }, true, alice));
		expect(value(await stub.distTags()).tags).toEqual({ latest: "2.0.0", beta: "2.0.0" });
	});

	it("refuses the version a channel points at after a rollback far back, which would remove the channel", async () => {
		const versions = Array.from({ length: 11 }, (_, i) => `${i + 1}.0.0`);
		const { stub } = await packageWith(versions);
		for (const version of versions) await stub.moveChannel("stable", { version }, alice);
		const first = value(await stub.channelHistory("stable")).entries.at(-1);
		value(await stub.rollbackChannel("stable", first?.id, alice));
		expect(await stub.deleteVersion({ version: "1.0.0" }, false, alice)).toMatchObject({
			ok: false,
			code: "protectedVersion",
		});
		expect(value(await stub.channel("stable")).version).toBe("1.0.0");
	});

	it.each<[string, { version: string; tags?: string[] }[], string, string]>([
		[
			"its previous row while its history has one",
			[{ version: "1.0.0" }, { version: "3.0.0", tags: ["next"] }, { version: "2.0.0" }],
			"2.0.0",
			"1.0.0",
		],
		[
			"the highest remaining version when its history had only that version",
			[{ version: "1.0.0", tags: ["old"] }, { version: "3.0.0", tags: ["next"] }, { version: "2.0.0" }],
			"2.0.0",
			"3.0.0",
		],
		[
			"a stable version rather than a higher prerelease",
			[{ version: "1.0.0", tags: [] }, { version: "2.0.0-beta.1", tags: ["next"] }, { version: "1.5.0" }],
			"1.5.0",
			"1.0.0",
		],
		[
			"the highest prerelease when only prereleases remain",
			[{ version: "1.0.0-alpha.1", tags: [] }, { version: "1.0.0-alpha.3", tags: [] }, { version: "1.0.0-alpha.2" }],
			"1.0.0-alpha.2",
			"1.0.0-alpha.3",
		],
	])("moves latest to %s when its version goes", async (_name, versions, removed, expected) => {
		const name = uniqueName("obj");
		const stub = packageStub(name);
		for (const { version, tags } of versions)
			value(await stub.publish(publishInput(name, version, tags ? { tags } : {})));
		value(await stub.deleteVersion({ version: removed }, true, alice));
		expect(value(await stub.distTags()).tags.latest).toBe(expected);
		const latest = value(await stub.channelHistory("latest")).entries[0];
		expect(latest).toMatchObject({ version: expected, current: true, by: alice.label });
	});
});

describe("channels", () => {
	it("moves a channel by version or versionId and answers what a loader needs", async () => {
		const { stub } = await packageWith(["1.0.0", "2.0.0"]);
		const v1 = value(await stub.version({ version: "1.0.0" }));
		const moved = value(await stub.moveChannel("stable", { versionId: v1.versionId }, alice));
		expect(moved).toEqual({
			packageId: v1.packageId,
			channel: "stable",
			versionId: v1.versionId,
			version: "1.0.0",
			publishedAt: expect.any(String),
			historyId: expect.any(Number),
			entryPath: "index.js",
			entryIntegrity: "sha384-entry",
			rollout: null,
			rev: await rev(stub),
		});
		expect(value(await stub.moveChannel("stable", { version: "2.0.0" }, alice)).version).toBe("2.0.0");
		expect(await stub.moveChannel("stable", { version: "9.9.9" }, alice)).toMatchObject({
			ok: false,
			code: "notFound",
		});
		expect(value(await stub.channel("stable")).version).toBe("2.0.0");
	});

	it("shows the history newest first with version ids, links and the current row", async () => {
		const { stub } = await packageWith(["1.0.0", "2.0.0"]);
		await stub.moveChannel("stable", { version: "1.0.0" }, alice);
		await stub.moveChannel("stable", { version: "2.0.0" }, actorNamed("bob"));
		value(await stub.rollbackChannel("stable", undefined, alice));
		const ids = Object.fromEntries(value(await stub.versions()).versions.map((v) => [v.version, v.versionId]));
		const entries = value(await stub.channelHistory("stable")).entries;
		// The rollback is an entry too, beside the chain (#24.4).
		expect(entries.map((e) => [e.version, e.versionId, e.current, e.by, e.event])).toEqual([
			["1.0.0", ids["1.0.0"], false, "alice (dev_0a1b2c3d)", "rollback"],
			["2.0.0", ids["2.0.0"], false, "bob (dev_0a1b2c3d)", "move"],
			["1.0.0", ids["1.0.0"], true, "alice (dev_0a1b2c3d)", "move"],
		]);
		expect(entries[0]?.detail).toEqual({ from: "2.0.0", to: entries[2]?.id });
		expect(entries[1]?.previousHistoryId).toBe(entries[2]?.id);
	});

	it("rolls back one step or to a chosen row, and refuses what it cannot", async () => {
		const { stub } = await packageWith(["1.0.0", "2.0.0", "3.0.0"]);
		for (const version of ["1.0.0", "2.0.0", "3.0.0"]) await stub.moveChannel("stable", { version }, alice);
		expect(value(await stub.rollbackChannel("stable", undefined, alice)).version).toBe("2.0.0");
		const first = value(await stub.channelHistory("stable")).entries.at(-1);
		expect(value(await stub.rollbackChannel("stable", first?.id, alice)).version).toBe("1.0.0");
		expect(await stub.rollbackChannel("stable", undefined, alice)).toMatchObject({ ok: false, code: "conflict" });
		expect(await stub.rollbackChannel("ghost", undefined, alice)).toMatchObject({ ok: false, code: "notFound" });
		expect(await stub.rollbackChannel("stable", 999_999, alice)).toMatchObject({ ok: false, code: "unprocessable" });
		expect(value(await stub.channel("stable")).version).toBe("1.0.0");
	});

	it("promotes a channel to where another points now", async () => {
		const { stub } = await packageWith(["1.0.0", "2.0.0"]);
		await stub.moveChannel("beta", { version: "1.0.0" }, alice);
		expect(value(await stub.promoteChannel("stable", "latest", alice)).version).toBe("2.0.0");
		expect(value(await stub.promoteChannel("stable", "beta", alice)).version).toBe("1.0.0");
		expect(value(await stub.channelHistory("stable")).entries.map((e) => e.version)).toEqual(["1.0.0", "2.0.0"]);
		expect(await stub.promoteChannel("stable", "ghost", alice)).toMatchObject({ ok: false, code: "notFound" });
	});

	it("removes a channel but never latest", async () => {
		const { stub } = await packageWith(["1.0.0"]);
		await stub.moveChannel("beta", { version: "1.0.0" }, alice);
		expect(value(await stub.removeChannel("beta", alice)).tags).toEqual({ latest: "1.0.0" });
		expect(await stub.removeChannel("beta", alice)).toMatchObject({ ok: false, code: "notFound" });
		expect(await stub.removeChannel("latest", alice)).toEqual({
			ok: false,
			code: "badRequest",
			message: "the latest tag cannot be deleted",
		});
		expect(value(await stub.channels()).channels.map((c) => c.channel)).toEqual(["latest"]);
	});
});

describe("access and maintainers", () => {
	it("changes who may read the package and whether writes need a second factor", async () => {
		const { stub } = await packageWith(["1.0.0"]);
		expect(value(await stub.setAccess({ access: "restricted" }, alice)).access).toBe("restricted");
		expect(value(await stub.info())).toMatchObject({ access: "restricted", requireTwoFactor: false });
		expect(await stub.channel("latest")).toMatchObject({ value: { access: "restricted" } });
		expect(value(await stub.setAccess({ requireTwoFactor: true }, alice)).access).toBe("restricted");
		expect(value(await stub.info())).toMatchObject({ access: "restricted", requireTwoFactor: true });
		expect(value(await stub.auditLog({ limit: 2 })).entries.map((e) => [e.action, e.detail])).toEqual([
			["access", JSON.stringify({ requireTwoFactor: true })],
			["access", JSON.stringify({ access: "restricted" })],
		]);
	});

	it("replaces the maintainers, shown in every document, and audits who came and went", async () => {
		const { stub } = await packageWith(["1.0.0"]);
		value(await stub.setMaintainers([{ name: "bob", email: "bob@example.com" }, { name: "carol" }], alice));
		const maintainers = [{ name: "bob", email: "bob@example.com" }, { name: "carol" }];
		expect(value(await stub.maintainers()).maintainers).toEqual(maintainers);
		const doc = JSON.parse(value(await stub.packument("full", null)).body ?? "") as { maintainers: unknown };
		// npm prints `name <email>`: one without an email gets an empty one in the documents (#24.6).
		expect(doc.maintainers).toEqual([
			{ name: "bob", email: "bob@example.com" },
			{ name: "carol", email: "" },
		]);
		expect(value(await stub.auditLog({ limit: 1 })).entries[0]).toMatchObject({
			action: "owner.change",
			detail: JSON.stringify({ added: ["bob", "carol"], removed: ["alice"] }),
		});
	});
});

describe("audit log", () => {
	it("records every change with who did it and from where, newest first, and filters", async () => {
		const { stub } = await packageWith(["1.0.0", "2.0.0"]);
		const bob = actorNamed("bob", "dev_99999999");
		await stub.moveChannel("stable", { version: "1.0.0" }, bob);
		await stub.rollbackChannel("latest", undefined, alice);
		const all = value(await stub.auditLog({})).entries;
		expect(all.map((e) => [e.action, e.actor, e.prefix, e.ip, e.target])).toEqual([
			["channel.rollback", "alice", "dev_0a1b2c3d", "192.0.2.1", "latest"],
			["channel.move", "bob", "dev_99999999", "192.0.2.1", "stable"],
			["publish", "alice", "dev_0a1b2c3d", "192.0.2.1", "2.0.0"],
			["publish", "alice", "dev_0a1b2c3d", "192.0.2.1", "1.0.0"],
		]);
		expect(value(await stub.auditLog({ actor: "bob" })).entries.map((e) => e.action)).toEqual(["channel.move"]);
		expect(value(await stub.auditLog({ actor: "dev_99999999" })).entries.map((e) => e.action)).toEqual([
			"channel.move",
		]);
		expect(value(await stub.auditLog({ target: "1.0.0" })).entries.map((e) => e.action)).toEqual(["publish"]);
		expect(value(await stub.auditLog({ limit: 2 })).entries).toHaveLength(2);
		expect(value(await stub.auditLog({ since: "2999-01-01T00:00:00.000Z" })).entries).toEqual([]);
	});

	it("records nothing for a refused change", async () => {
		const { stub } = await packageWith(["1.0.0"]);
		await stub.moveChannel("stable", { version: "9.9.9" }, alice);
		await stub.removeChannel("latest", alice);
		expect(value(await stub.auditLog({})).entries.map((e) => e.action)).toEqual(["publish"]);
	});
});
