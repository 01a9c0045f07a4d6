import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { applyMigrations } from "../durable-objects/migrations";
import { Channels } from "../durable-objects/package/channels";
import { Documents, DUE_VERSIONS_SQL, piecesPageSql } from "../durable-objects/package/documents";
import { STORAGE_BYTES_SQL } from "../durable-objects/package/metrics-report";
import { PackageRecord } from "../durable-objects/package/package-record";
import { fullPackument } from "../durable-objects/package/packument";
import { Versions } from "../durable-objects/package/versions";
import { authStoreMigrations } from "../schema/auth/migrations";
import type { Migration } from "../schema/migrations";
import { packageMetadataMigrations } from "../schema/package/migrations";
import { packageMetadataSchema } from "../schema/package/squashed-schema";
import { versionRow } from "./helpers/package-rows";
import { publish, publisherFor, uniqueName } from "./helpers/registry";
import { schemaOf } from "./helpers/sqlite-schema";

// Schema migrations run once per object, in order, in one transaction, and are recorded inside it.
// White-box on purpose: the schema itself is the subject, so these tests read the objects' SQLite.

describe("Durable Object migrations", () => {
	it("records every step of both objects' schemas once something is written", async () => {
		const name = uniqueName();
		expect((await publish(name, "1.0.0", await publisherFor(name))).status).toBe(201);
		const pkg = env.PACKAGES.get(env.PACKAGES.idFromName(name));
		const applied = await runInDurableObject(pkg, (_i, state) =>
			state.storage.sql.exec<{ version: number }>("SELECT version FROM _migrations ORDER BY version").toArray(),
		);
		expect(applied.map((r) => r.version)).toEqual(packageMetadataMigrations.map((m) => m.version));

		const auth = env.AUTH.get(env.AUTH.idFromName("auth"));
		const authApplied = await runInDurableObject(auth, (_i, state) =>
			state.storage.sql.exec<{ version: number }>("SELECT version FROM _migrations ORDER BY version").toArray(),
		);
		expect(authApplied.map((r) => r.version)).toEqual(authStoreMigrations.map((m) => m.version));
	});

	it("takes an object on an old schema forward, keeping its rows, and applies nothing twice", async () => {
		const stub = env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName()));
		const steps: Migration[] = [
			{ version: 101, name: "notes", sql: "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)" },
			{
				version: 102,
				name: "note authors",
				sql: "ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT 'unknown'",
			},
		];
		const result = await runInDurableObject(stub, (_i, state) => {
			const first = applyMigrations(state.storage, steps.slice(0, 1));
			state.storage.sql.exec("INSERT INTO notes (body) VALUES ('kept')");
			const second = applyMigrations(state.storage, steps);
			const third = applyMigrations(state.storage, steps);
			const rows = state.storage.sql.exec("SELECT body, author FROM notes").toArray();
			const versions = state.storage.sql
				.exec<{ version: number }>("SELECT version FROM _migrations WHERE version > 100 ORDER BY version")
				.toArray();
			return { first, second, third, rows, versions: versions.map((v) => v.version) };
		});
		expect(result).toEqual({
			first: 101,
			second: 102,
			third: 102,
			rows: [{ body: "kept", author: "unknown" }],
			versions: [101, 102],
		});
	});

	it("rolls a failing step back entirely, leaving the recorded version where it was", async () => {
		const stub = env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName()));
		const outcome = await runInDurableObject(stub, (_i, state) => {
			applyMigrations(state.storage, [{ version: 201, name: "a", sql: "CREATE TABLE a (x INTEGER)" }]);
			let error = "";
			try {
				applyMigrations(state.storage, [
					{ version: 201, name: "a", sql: "CREATE TABLE a (x INTEGER)" },
					{ version: 202, name: "b", sql: "CREATE TABLE b (y INTEGER)" },
					{ version: 203, name: "broken", sql: "ALTER TABLE missing ADD COLUMN z INTEGER" },
				]);
			} catch (e) {
				error = String(e);
			}
			const tables = state.storage.sql
				.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('a', 'b')")
				.toArray();
			const max = state.storage.sql.exec<{ v: number }>("SELECT max(version) AS v FROM _migrations").one();
			return { error, tables: tables.map((t) => t.name), max: max.v };
		});
		expect(outcome.error).toMatch(/missing/);
		expect(outcome.tables).toEqual(["a"]);
		expect(outcome.max).toBe(201);
	});

	it("takes a package stored as whole documents (step 6) to pieces (step 7): the documents go, the same packument is joined (#25)", async () => {
		const name = uniqueName("older");
		const stub = env.PACKAGES.get(env.PACKAGES.idFromName(name));
		const outcome = await runInDurableObject(stub, (_i, state) => {
			const sql = state.storage.sql;
			applyMigrations(
				state.storage,
				packageMetadataMigrations.filter((m) => m.version <= 6),
			);
			const now = "2026-01-02T00:00:00.000Z";
			new PackageRecord(sql).claim(name, "public", now);
			const versions = new Versions(sql);
			for (const [i, version] of ["1.0.0", "1.1.0"].entries()) {
				versions.insert(
					{
						...versionRow(version, { name, version, description: `v${i}` }),
						published_at: `2026-01-0${i + 2}T00:00:00.000Z`,
					},
					[],
				);
			}
			versions.addMaintainer({ name: "alice" });
			new Channels(sql).move("latest", "1.1.0", "alice", now);
			const pkg = new PackageRecord(sql).bumpRevision(now);
			const rows = versions.all();
			const tags = { latest: "1.1.0" };
			const whole = JSON.stringify(fullPackument(pkg, rows, tags, [{ name: "alice" }]));
			sql.exec(`INSERT INTO documents (kind, body, etag) VALUES ('full', ?, '"x"')`, whole);

			const migrated = applyMigrations(state.storage, packageMetadataMigrations);
			const tables = sql
				.exec<{ name: string }>(
					`SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('documents', 'version_documents')`,
				)
				.toArray()
				.map((t) => t.name);
			const joined = new Documents(sql).body(pkg, "full", () => ({
				distTags: tags,
				maintainers: versions.maintainers(),
				latest: () => versions.get("1.1.0"),
			}));
			const pieces = sql.exec<{ n: number }>(`SELECT count(*) AS n FROM version_documents`).one().n;
			return { migrated, tables, same: joined === whole, pieces };
		});
		expect(outcome).toEqual({
			migrated: Math.max(...packageMetadataMigrations.map((m) => m.version)),
			tables: ["version_documents"],
			same: true,
			pieces: 2,
		});
	});

	it("gives a new package object, in one script, exactly the schema its steps make, recorded as applied (#25)", async () => {
		const stepwise = await runInDurableObject(
			env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName("stepwise"))),
			(_i, state) => {
				applyMigrations(state.storage, packageMetadataMigrations);
				return schemaOf(state.storage.sql);
			},
		);
		const squashed = await runInDurableObject(
			env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName("squashed"))),
			(_i, state) => {
				applyMigrations(state.storage, packageMetadataMigrations, packageMetadataSchema);
				return schemaOf(state.storage.sql);
			},
		);
		expect(stepwise.master.length).toBeGreaterThan(20);
		expect(stepwise.applied).toEqual(packageMetadataMigrations.map((m) => [m.version, m.name]));
		// Out of date? Regenerate: node scripts/squash-schema.mjs > schema/package/squashed-schema.ts
		expect(squashed).toEqual(stepwise);
	});

	it("runs the steps above the squashed script's version after it, and never the script on an existing database", async () => {
		const steps: Migration[] = [
			{ version: 1, name: "a", sql: "CREATE TABLE a (x INTEGER)" },
			{ version: 2, name: "a.y", sql: "ALTER TABLE a ADD COLUMN y TEXT" },
		];
		// A script that differs from step 1 in a way the schema shows: which of the two ran is visible.
		const script = { version: 1, sql: "CREATE TABLE a (x INTEGER, squashed INTEGER)" };
		const outcome = await runInDurableObject(
			env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName("squash-steps"))),
			(_i, state) => {
				const fresh = applyMigrations(state.storage, steps, script);
				const columns = () =>
					state.storage.sql
						.exec<{ name: string }>("SELECT name FROM pragma_table_info('a')")
						.toArray()
						.map((c) => c.name);
				const afterFresh = columns();
				state.storage.sql.exec("DROP TABLE a");
				state.storage.sql.exec("DELETE FROM _migrations WHERE version = 2");
				state.storage.sql.exec("CREATE TABLE a (x INTEGER)");
				const existing = applyMigrations(state.storage, steps, script);
				return { fresh, afterFresh, existing, afterExisting: columns() };
			},
		);
		expect(outcome).toEqual({
			fresh: 2,
			afterFresh: ["x", "squashed", "y"],
			existing: 2,
			afterExisting: ["x", "y"],
		});
	});
});

describe("what a write costs the alarm (#25)", () => {
	it("sums the storage figure from the tarball-size index, not from every version's row", async () => {
		const plan = await runInDurableObject(
			env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName("plan"))),
			(_i, state) => {
				applyMigrations(state.storage, packageMetadataMigrations, packageMetadataSchema);
				return state.storage.sql
					.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${STORAGE_BYTES_SQL}`)
					.toArray()
					.map((row) => row.detail);
			},
		);
		expect(plan).toEqual(["SCAN versions USING COVERING INDEX versions_tarball_size"]);
	});

	it("finds the versions whose pieces are due by their keys, never by reading every version", async () => {
		const plan = await runInDurableObject(
			env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName("plan"))),
			(_i, state) => {
				applyMigrations(state.storage, packageMetadataMigrations, packageMetadataSchema);
				return state.storage.sql
					.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${DUE_VERSIONS_SQL}`)
					.toArray()
					.map((row) => row.detail);
			},
		);
		expect(plan.some((step) => /^SEARCH versions USING INDEX \w+ \(version=\?\)$/.test(step))).toBe(true);
		expect(plan.filter((step) => step.startsWith("SCAN versions"))).toEqual([]);
	});

	it("reads a streamed packument's pages as ranges of the order index: no scan, no sort", async () => {
		const plans = await runInDurableObject(
			env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName("plan"))),
			(_i, state) => {
				applyMigrations(state.storage, packageMetadataMigrations, packageMetadataSchema);
				const plan = (sql: string, ...bindings: SqlStorageValue[]) =>
					state.storage.sql
						.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, ...bindings)
						.toArray()
						.map((row) => row.detail);
				return {
					first: plan(piecesPageSql("full", false), 300),
					next: plan(piecesPageSql("abbreviated", true), "2026-01-01T00:00:00.000Z", 1, 300),
				};
			},
		);
		expect(plans).toEqual({
			first: ["SCAN version_documents USING INDEX version_documents_order"],
			next: ["SEARCH version_documents USING INDEX version_documents_order ((published_at,seq)>(?,?))"],
		});
	});

	it("lists, on the way to step 11, the versions without pieces as due and drops pieces without versions", async () => {
		const name = uniqueName("due");
		const outcome = await runInDurableObject(env.PACKAGES.get(env.PACKAGES.idFromName(name)), (_i, state) => {
			const sql = state.storage.sql;
			applyMigrations(
				state.storage,
				packageMetadataMigrations.filter((m) => m.version <= 10),
			);
			const now = "2026-01-02T00:00:00.000Z";
			new PackageRecord(sql).claim(name, "public", now);
			const versions = new Versions(sql);
			for (const [i, version] of ["1.0.0", "1.1.0"].entries()) {
				versions.insert(
					{ ...versionRow(version, { name, version }), published_at: `2026-01-0${i + 2}T00:00:00.000Z` },
					[],
				);
			}
			const pkg = new PackageRecord(sql).bumpRevision(now);
			// Before step 11 nothing marks a version due: 1.0.0 and 1.1.0 have no pieces, 9.9.9 only pieces.
			sql.exec(
				`INSERT INTO version_documents (version, published_at, seq, abbreviated, full_head, full_tail)
				 VALUES ('9.9.9', ?, 99, '{}', '{', '}')`,
				now,
			);
			const before = sql.exec<{ version: string }>(`SELECT version FROM version_documents ORDER BY version`).toArray();

			applyMigrations(state.storage, packageMetadataMigrations);
			const due = sql.exec<{ version: string }>(`SELECT version FROM version_documents_due ORDER BY version`).toArray();
			new Documents(sql).store(pkg);
			const after = sql.exec<{ version: string }>(`SELECT version FROM version_documents ORDER BY version`).toArray();
			return { before, due, after };
		});
		expect(outcome).toEqual({
			before: [{ version: "9.9.9" }],
			due: [{ version: "1.0.0" }, { version: "1.1.0" }],
			after: [{ version: "1.0.0" }, { version: "1.1.0" }],
		});
	});
});
