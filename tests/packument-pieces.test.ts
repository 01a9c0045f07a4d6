import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Channels } from "../durable-objects/package/channels";
import type { PackageMetadataDO } from "../durable-objects/package/package-metadata";
import { abbreviatedPackument, fullPackument } from "../durable-objects/package/packument";
import { assembleAbbreviated, assembleFull, versionPieces } from "../durable-objects/package/packument-pieces";
import { Versions } from "../durable-objects/package/versions";
import { sha256Hex } from "../schema/hashing";
import type { Person } from "../schema/package/contract";
import type { PackageRow, VersionRow } from "../schema/package/rows";
import { actorNamed, packageStub, publishInput } from "./helpers/package-object";
import { packageRow, versionRow } from "./helpers/package-rows";
import { ADMIN, BASE, call, packument, uniqueName } from "./helpers/registry";
import { largestValue, largestValueIn, MAX_SQLITE_VALUE_BYTES } from "./helpers/sqlite-values";

// Packuments stored in pieces, one row per version (#25 "packuments that scale"): the joined
// pieces are the bytes the pure builder (packument.ts) makes, a publish writes its own version's
// pieces only, and no SQLite value grows with the package: a package whose packument is over 5 MB
// is stored and served with every value under Cloudflare's 2 MB.

const maintainers: Person[] = [{ name: "alice", email: "alice@example.com" }, { name: "bob" }];

/** The text of both forms joined from pieces, as the object stores and joins them. */
function joined(pkg: PackageRow, rows: VersionRow[], tags: Record<string, string>, people: Person[]) {
	const pieces = rows.map((row) => ({ row, ...versionPieces(pkg, row) }));
	const latest = rows.find((r) => r.version === tags.latest) ?? rows.at(-1) ?? null;
	return {
		full: assembleFull(
			pkg,
			pieces.map((p) => ({
				version: p.row.version,
				published_at: p.row.published_at,
				full_head: p.fullHead,
				full_tail: p.fullTail,
			})),
			latest,
			tags,
			people,
		),
		abbreviated: assembleAbbreviated(
			pkg,
			pieces.map((p) => ({ version: p.row.version, abbreviated: p.abbreviated })),
			tags,
		),
	};
}

describe("packument pieces (#25 packuments that scale)", () => {
	const rows = [
		versionRow(
			"1.0.0",
			{
				description: 'first ✓ \u0000 "quoted" </script>',
				maintainers: [{ name: "mallory" }],
				dist: { tarball: "http://elsewhere.test/x.tgz" },
				dependencies: { a: "^1.0.0" },
				bin: { w: "bin.js" },
			},
			{ published_at: "2026-01-02T00:00:00.000Z", readme: "# one", readme_filename: "README.md" },
		),
		versionRow(
			"2.0.0-beta.1",
			{ description: "beta", keywords: ["ui"], engines: { node: ">=20" } },
			{
				published_at: "2026-01-03T00:00:00.000Z",
				deprecated: "use 2",
				signatures: JSON.stringify([{ keyid: "k", sig: "s" }]),
			},
		),
		versionRow(
			"1.1.0",
			{ description: "the latest", author: "Ada", license: "MIT", _npmUser: { name: "mallory" } },
			{ published_at: "2026-01-04T00:00:00.000Z", readme: "# latest", readme_filename: "readme.md" },
		),
	];

	it.each<[string, PackageRow, VersionRow[], Record<string, string>, Person[]]>([
		[
			"several versions, latest not the last",
			packageRow(),
			rows,
			{ latest: "1.1.0", next: "2.0.0-beta.1" },
			maintainers,
		],
		["a scoped name, no latest tag", packageRow({ name: "@acme/widget" }), rows, { next: "1.0.0" }, maintainers],
		["no maintainers", packageRow(), rows.slice(0, 1), { latest: "1.0.0" }, []],
		["no versions", packageRow(), [], {}, maintainers],
	])("join into exactly the bytes the whole-document builder makes: %s", (_case, pkg, versions, tags, people) => {
		const text = joined(pkg, versions, tags, people);
		expect(text.full).toBe(JSON.stringify(fullPackument(pkg, versions, tags, people)));
		expect(text.abbreviated).toBe(JSON.stringify(abbreviatedPackument(pkg, versions, tags)));
	});

	it("keep a version's maintainers out of its stored piece, so a change of maintainers rewrites no piece", () => {
		const pieces = versionPieces(packageRow(), rows[0] as VersionRow);
		expect(pieces.fullHead + pieces.fullTail).not.toContain("bob");
		expect(pieces.fullHead.endsWith('"maintainers":')).toBe(true);
	});
});

describe("a package object's stored packuments (#25 packuments that scale)", () => {
	it("serves a package whose packument is over 5 MB with every stored value under 2 MB", async () => {
		const name = uniqueName("big");
		const stub = packageStub(name);
		const versions = ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "1.0.6"];
		for (const version of versions) {
			const manifest = {
				name,
				version,
				// 800 KB of each version's document; half of it (dependencies) is in the abbreviated form too.
				description: "d".repeat(400_000),
				dependencies: Object.fromEntries(Array.from({ length: 8_000 }, (_, i) => [`dep-${i}-${"x".repeat(30)}`, "1"])),
			};
			const published = await stub.publish(publishInput(name, version, { manifest }));
			expect(published.ok).toBe(true);
		}
		const full = await stub.packument("full", null);
		const abbreviated = await stub.packument("abbreviated", null);
		if (!full.ok || !abbreviated.ok) throw new Error("packument refused");
		expect(full.value.body?.length).toBeGreaterThan(5 * 1024 * 1024);
		expect(abbreviated.value.body?.length).toBeGreaterThan(2 * 1024 * 1024);
		const doc = JSON.parse(full.value.body ?? "{}") as { versions: Record<string, { description: string }> };
		expect(Object.keys(doc.versions)).toEqual(versions);
		expect(doc.versions["1.0.6"]?.description).toHaveLength(400_000);

		const largest = await largestValueIn(stub);
		expect(largest?.bytes).toBeLessThan(MAX_SQLITE_VALUE_BYTES);
		expect(largest?.bytes).toBeGreaterThan(400_000);

		// Through the Worker and its read tier: the same document and ETag.
		const res = await packument(name, ADMIN);
		expect(res.status).toBe(200);
		expect(res.headers.get("etag")).toBe(full.value.etag);
		const served = (await res.json()) as { versions: Record<string, unknown> };
		expect(Object.keys(served.versions)).toEqual(versions);
	});

	it("writes only the new version's pieces on a publish, and only the changed version's on a deprecation", async () => {
		const name = uniqueName("pieces");
		const stub = packageStub(name);
		for (const version of ["1.0.0", "1.1.0", "1.2.0"]) await stub.publish(publishInput(name, version));
		const pieceRows = () =>
			runInDurableObject(stub, (_i, state) =>
				Object.fromEntries(
					state.storage.sql
						.exec<{ version: string; rowid: number }>(`SELECT version, rowid FROM version_documents`)
						.toArray()
						.map((r) => [r.version, r.rowid]),
				),
			);
		const before = await pieceRows();
		await stub.publish(publishInput(name, "2.0.0", { actor: actorNamed("carol") }));
		const afterPublish = await pieceRows();
		expect(afterPublish).toMatchObject(before);
		expect(Object.keys(afterPublish)).toHaveLength(4);

		await stub.update({
			actor: actorNamed(),
			rev: "",
			removeMissing: false,
			force: false,
			versions: { "1.1.0": { deprecated: "old" } },
		});
		const afterDeprecate = await pieceRows();
		expect(afterDeprecate["1.0.0"]).toBe(before["1.0.0"]);
		expect(afterDeprecate["1.2.0"]).toBe(before["1.2.0"]);
		expect(afterDeprecate["1.1.0"]).not.toBe(before["1.1.0"]);

		// Every version shows the new publisher among the maintainers, and the deprecation.
		const full = await stub.packument("full", null);
		if (!full.ok) throw new Error("packument refused");
		const doc = JSON.parse(full.value.body ?? "{}") as {
			versions: Record<string, { maintainers: Person[]; deprecated?: string }>;
		};
		for (const version of ["1.0.0", "1.1.0", "1.2.0", "2.0.0"]) {
			expect(doc.versions[version]?.maintainers.map((m) => m.name)).toEqual(["alice", "carol"]);
		}
		expect(doc.versions["1.1.0"]?.deprecated).toBe("old");
	});

	it("builds the pieces of a version a restore wrote as a row (the triggers mark it due) on first read, the same bytes", async () => {
		const name = uniqueName("restored");
		const stub = packageStub(name);
		for (const version of ["1.0.0", "1.1.0"]) await stub.publish(publishInput(name, version));
		const { expected, pieces, due } = await runInDurableObject(stub, (instance, state) => {
			const sql = state.storage.sql;
			// As a restore's table dump writes rows: every column, by plain SQL, no Versions call.
			const row = sql.exec<Record<string, SqlStorageValue>>(`SELECT * FROM versions WHERE version = '1.1.0'`).one();
			sql.exec(`DELETE FROM versions WHERE version = '1.1.0'`);
			const columns = Object.keys(row);
			sql.exec(
				`INSERT INTO versions (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
				...Object.values(row),
			);
			const waiting = sql.exec<{ version: string }>(`SELECT version FROM version_documents_due`).toArray();
			const pkg = sql.exec<PackageRow>(`SELECT * FROM package`).one();
			const versions = sql.exec<VersionRow>(`SELECT * FROM versions ORDER BY published_at, rowid`).toArray();
			const read = instance.packument("abbreviated", null);
			if (!read.ok) throw new Error("packument refused");
			return {
				expected: read.value.body === JSON.stringify(abbreviatedPackument(pkg, versions, { latest: "1.1.0" })),
				pieces: sql.exec<{ n: number }>(`SELECT count(*) AS n FROM version_documents`).one().n,
				due: {
					before: waiting.map((r) => r.version),
					after: sql.exec(`SELECT 1 FROM version_documents_due`).toArray().length,
				},
			};
		});
		expect(due).toEqual({ before: ["1.1.0"], after: 0 });
		expect(expected).toBe(true);
		expect(pieces).toBe(2);
	});

	it("drops a version's pieces with its row, whatever deletes it", async () => {
		const name = uniqueName("orphan");
		const stub = packageStub(name);
		for (const version of ["1.0.0", "1.1.0"]) await stub.publish(publishInput(name, version));
		const pieces = await runInDurableObject(stub, (_i, state) => {
			state.storage.sql.exec(`DELETE FROM versions WHERE version = '1.1.0'`);
			return state.storage.sql
				.exec<{ version: string }>(`SELECT version FROM version_documents`)
				.toArray()
				.map((r) => r.version);
		});
		expect(pieces).toEqual(["1.0.0"]);
		await stub.setAccess({ access: "public" }, actorNamed());
		const abbreviated = await stub.packument("abbreviated", null);
		if (!abbreviated.ok) throw new Error("packument refused");
		expect(Object.keys(JSON.parse(abbreviated.value.body ?? "{}").versions)).toEqual(["1.0.0"]);
	});

	it("the limit check finds a value over 2 MB in any table", async () => {
		const stub = packageStub(uniqueName("limit"));
		const found = await runInDurableObject(stub, (_i, state) => {
			const sql = state.storage.sql;
			sql.exec(`CREATE TABLE scratch (id INTEGER PRIMARY KEY, small TEXT, big BLOB)`);
			sql.exec(`INSERT INTO scratch (small, big) VALUES ('é', zeroblob(?))`, MAX_SQLITE_VALUE_BYTES + 1);
			const largest = largestValue(sql);
			// Left behind, it would fail this file's check of every object (sqlite-value-limit.ts).
			sql.exec(`DROP TABLE scratch`);
			return largest;
		});
		expect(found).toEqual({ table: "scratch", column: "big", bytes: MAX_SQLITE_VALUE_BYTES + 1 });
	});
});

describe("packuments too large to join (#25 packuments of any size)", () => {
	/** A package with `count` more versions of about 3 KB of fields each, written as rows (as a restore writes them). */
	async function manyVersions(name: string, count: number) {
		const stub = packageStub(name);
		await stub.publish(publishInput(name, "0.0.1"));
		await runInDurableObject(stub, (_i, state) => {
			const sql = state.storage.sql;
			const row = sql.exec<Record<string, SqlStorageValue>>(`SELECT * FROM versions`).one();
			const columns = Object.keys(row);
			const insert = `INSERT INTO versions (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`;
			for (let i = 1; i <= count; i++) {
				const version = `1.0.${i}`;
				const values: Record<string, SqlStorageValue> = {
					...row,
					version,
					version_id: crypto.randomUUID(),
					manifest: JSON.stringify({ name, version, description: `${i} ${"d".repeat(3_000)}`, main: "index.js" }),
					published_at: new Date(Date.UTC(2026, 0, 1) + i * 1_000).toISOString(),
				};
				sql.exec(insert, ...columns.map((column) => values[column] ?? null));
			}
		});
		// A write: the due pieces are built, the revision moves.
		await stub.setAccess({ access: "public" }, actorNamed());
		return stub;
	}

	/** What the pure builders make of the package's rows, the base URL in place: its digest and length. */
	function expected(stub: DurableObjectStub<PackageMetadataDO>) {
		return runInDurableObject(stub, async (_i, state) => {
			const sql = state.storage.sql;
			const pkg = sql.exec<PackageRow>(`SELECT * FROM package`).one();
			const rows = sql.exec<VersionRow>(`SELECT * FROM versions ORDER BY published_at, rowid`).toArray();
			const tags = new Channels(sql).distTags();
			const people = new Versions(sql).maintainers();
			const texts = {
				full: JSON.stringify(fullPackument(pkg, rows, tags, people)),
				abbreviated: JSON.stringify(abbreviatedPackument(pkg, rows, tags)),
			};
			const digest = async (text: string) => ({
				sha256: await sha256Hex(text.replaceAll(pkg.base_placeholder, BASE)),
				length: text.replaceAll(pkg.base_placeholder, BASE).length,
			});
			return { full: await digest(texts.full), abbreviated: await digest(texts.abbreviated) };
		});
	}

	it("streams both forms of a packument over 32 MiB through the Worker: the builder's bytes, 304 on its ETag", async () => {
		const name = uniqueName("huge");
		const stub = await manyVersions(name, 11_000);
		const want = await expected(stub);
		// More than one RPC value may carry (32 MiB): the object could never hand it over whole.
		expect(want.full.length).toBeGreaterThan(32 * 1024 * 1024);

		for (const form of ["full", "abbreviated"] as const) {
			const res = await packument(name, ADMIN, form === "full" ? undefined : "application/vnd.npm.install-v1+json");
			expect(res.status).toBe(200);
			expect(res.headers.get("content-type")).toMatch(
				form === "full" ? /^application\/json/ : /^application\/vnd\.npm/,
			);
			const bytes = new Uint8Array(await res.arrayBuffer());
			const digest = (await crypto.subtle.digest("SHA-256", bytes)) as ArrayBuffer;
			expect({ sha256: new Uint8Array(digest).toHex(), length: bytes.byteLength }).toEqual(want[form]);

			const etag = res.headers.get("etag") ?? "";
			expect(etag).toMatch(form === "full" ? /-f"$/ : /-a"$/);
			const again = await call(`/${name}`, {
				token: ADMIN,
				headers: {
					"if-none-match": etag,
					...(form === "full" ? {} : { accept: "application/vnd.npm.install-v1+json" }),
				},
			});
			expect(again.status).toBe(304);
			expect(await again.text()).toBe("");
		}
		// Nothing the stream read was kept whole, in the object or in any value.
		expect((await largestValueIn(stub))?.bytes).toBeLessThan(MAX_SQLITE_VALUE_BYTES);
	});

	it("finishes a streamed packument that a publish lands in while it is read: whole JSON, every version it began with", async () => {
		const name = uniqueName("torn");
		const stub = await manyVersions(name, 11_000);
		const res = await packument(name, ADMIN);
		if (!res.body) throw new Error("expected a body");
		const reader = res.body.getReader();
		const chunks: Uint8Array[] = [];
		const first = await reader.read();
		if (first.done) throw new Error("expected bytes");
		chunks.push(first.value);
		expect((await stub.publish(publishInput(name, "2.0.0"))).ok).toBe(true);
		for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
		const doc = JSON.parse(await new Blob(chunks).text()) as {
			versions: Record<string, unknown>;
			time: Record<string, string>;
		};
		const began = ["0.0.1", ...Array.from({ length: 11_000 }, (_, i) => `1.0.${i + 1}`)];
		expect(began.filter((version) => !(version in doc.versions))).toEqual([]);
		expect(began.filter((version) => !(version in doc.time))).toEqual([]);
	});

	it("answers a client's revalidation of a streamed packument with nothing, reading no piece", async () => {
		const name = uniqueName("revalidated");
		// About 3 MB of full packument: streamed, never kept by the read tier.
		const stub = await manyVersions(name, 800);
		const res = await packument(name, ADMIN);
		expect(res.headers.get("content-length")).toBeNull();
		const etag = res.headers.get("etag") ?? "";
		await res.arrayBuffer();

		const matching = await servedWithQueries(stub, name, etag);
		expect(matching).toEqual({ etag, body: null, streamed: false, pieceReads: 0 });
		for (const read of [await servedWithQueries(stub, name, '"other"'), await servedWithQueries(stub, name, null)]) {
			expect(read).toMatchObject({ etag, body: null, streamed: true });
			expect(read.pieceReads).toBeGreaterThan(0);
		}
		// At a revision not streamed yet, the object learns the size from the pieces, and streams nothing.
		expect((await stub.publish(publishInput(name, "1.9.0"))).ok).toBe(true);
		const info = await stub.info();
		if (!info.ok) throw new Error("info refused");
		const next = `"${info.value.rev}-f"`;
		const first = await servedWithQueries(stub, name, next);
		expect(first).toMatchObject({ etag: next, body: null, streamed: false });
		expect(first.pieceReads).toBeGreaterThan(0);
		expect(await servedWithQueries(stub, name, next)).toEqual({
			etag: next,
			body: null,
			streamed: false,
			pieceReads: 0,
		});
		// A HEAD's: the headers alone (bodyless), no stream made to be cancelled.
		expect(await servedWithQueries(stub, name, null, true)).toEqual({
			etag: next,
			body: null,
			bodyless: true,
			streamed: false,
			pieceReads: 0,
		});

		// Through the Worker, the same 304; after a write, the old ETag gets the new revision, streamed.
		const again = await call(`/${name}`, { token: ADMIN, headers: { "if-none-match": next } });
		expect(again.status).toBe(304);
		expect((await stub.publish(publishInput(name, "2.0.0"))).ok).toBe(true);
		const changed = await call(`/${name}`, { token: ADMIN, headers: { "if-none-match": next } });
		expect(changed.status).toBe(200);
		expect(changed.headers.get("content-length")).toBeNull();
		expect(changed.headers.get("etag")).not.toBe(next);
		expect(Object.keys((JSON.parse(await changed.text()) as { versions: object }).versions)).toContain("2.0.0");

		// A HEAD gets the 200's headers and no stream, at a revision streamed before or not.
		for (const version of [null, "2.0.1"]) {
			if (version) expect((await stub.publish(publishInput(name, version))).ok).toBe(true);
			const head = await call(`/${name}`, { token: ADMIN, method: "HEAD" });
			expect(head.status).toBe(200);
			expect(head.headers.get("etag")).toMatch(/-f"$/);
			expect(head.headers.get("etag") === changed.headers.get("etag")).toBe(version === null);
			expect(head.headers.get("content-type")).toMatch(/^application\/json/);
			expect(await head.text()).toBe("");
		}
	});
});

/**
 * The full packument as a client's read asks the object for it through the read tier (no
 * If-None-Match of its own, the client's beside it), with the number of its queries that read
 * pieces (`version_documents`).
 */
function servedWithQueries(
	stub: DurableObjectStub<PackageMetadataDO>,
	name: string,
	ifNoneMatch: string | null,
	head = false,
) {
	return runInDurableObject(stub, async (instance, state) => {
		const sql = state.storage.sql;
		const exec = sql.exec;
		const queries: string[] = [];
		sql.exec = ((query: string, ...bindings: SqlStorageValue[]) => {
			queries.push(query);
			return exec.call(sql, query, ...bindings);
		}) as typeof sql.exec;
		try {
			const served = await instance.servedPackument(name, "full", null, true, { base: BASE, ifNoneMatch, head });
			if (!served.ok) throw new Error("packument refused");
			await served.value.stream?.cancel();
			const { etag, body, stream, bodyless } = served.value;
			return {
				etag,
				body,
				...(bodyless ? { bodyless } : {}),
				streamed: stream !== undefined,
				pieceReads: queries.filter((q) => q.includes("version_documents")).length,
			};
		} finally {
			sql.exec = exec;
		}
	});
}
