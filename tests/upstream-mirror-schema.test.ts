import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { applyMigrations, Schema } from "../durable-objects/migrations";
import type { Migration, SchemaPart } from "../schema/migrations";
import { packageMetadataMigrations } from "../schema/package/migrations";
import { MIRROR_PART_SINCE, packageMirrorPart, packageMirrorSteps } from "../schema/package/mirror-schema";
import { packageMetadataSchema } from "../schema/package/squashed-schema";
import { ADMIN, call, uniqueName } from "./helpers/registry";
import { schemaOf } from "./helpers/sqlite-schema";
import { ABBREVIATED, packageObject, packageTables, publishUpstream } from "./helpers/upstream";

// A name only ever served from upstream keeps only its copies' tables (#25: creating all of a
// package object's tables was most of what a cold install through the proxy cost per package).
// White-box on purpose: the schema itself is the subject, so these tests read the objects' SQLite.

/** The schema the steps make one by one: the truth both parts together must equal. */
async function stepwiseSchema() {
	return runInDurableObject(packageObject(uniqueName("stepwise")), (_i, state) => {
		applyMigrations(state.storage, packageMetadataMigrations);
		return schemaOf(state.storage.sql);
	});
}

/** Steps after the part's baseline that name one of its tables without being among its own steps. */
function unlistedMirrorSteps(steps: readonly Migration[], part: SchemaPart, since: number): number[] {
	return steps
		.filter((step) => step.version > since)
		.filter((step) => part.tables.some((table) => new RegExp(`\\b${table}\\b`).test(step.sql)))
		.filter((step) => !part.steps.some((own) => own.version === step.version))
		.map((step) => step.version);
}

describe("a package name only served from upstream (#25)", () => {
	it("stores its copies in their own tables only, and gets the whole schema, exactly as the steps make it, when it is claimed", async () => {
		const name = uniqueName("mirror-only");
		await publishUpstream(name, "1.0.0");
		const packument = await call(`/${name}`, { headers: { accept: ABBREVIATED } });
		expect(packument.status).toBe(200);
		const tarball = await call(`/${name}/-/${name}-1.0.0.tgz`);
		expect(tarball.status).toBe(200);
		await tarball.arrayBuffer();
		expect((await packageTables(name)).filter((t) => !t.startsWith("_cf_") && !t.startsWith("sqlite_")).sort()).toEqual(
			["_schema_part", ...packageMirrorPart.tables].sort(),
		);
		// Served from those copies again (the object asked past the read tier), not asked for anew.
		const again = await call(`/${name}`, { headers: { accept: ABBREVIATED, "cache-control": "no-cache" } });
		expect(again.status).toBe(200);
		expect(again.headers.get("x-registry-upstream")).toBe("hit");

		const claimed = await call("/-/admin/claims", { method: "POST", token: ADMIN, body: JSON.stringify({ name }) });
		expect(claimed.status).toBe(201);
		const whole = await runInDurableObject(packageObject(name), (_i, state) => schemaOf(state.storage.sql));
		expect(whole).toEqual(await stepwiseSchema());
		// Claimed, the name is this registry's: nothing of upstream's is served under it any more.
		expect((await call(`/${name}`, { headers: { "cache-control": "no-cache" } })).status).toBe(404);
		const audit = await call(`/packages/${name}/audit`, { token: ADMIN });
		expect(audit.status).toBe(200);
		expect(JSON.stringify(await audit.json())).toContain('"claim"');
	});

	it("gets the whole schema at once when its first write is its own (a publish)", async () => {
		const tables = await runInDurableObject(packageObject(uniqueName("whole-at-once")), (_i, state) => {
			const schema = new Schema(state.storage, packageMetadataMigrations, packageMetadataSchema, packageMirrorPart);
			schema.ensure();
			return { ready: schema.ready, partReady: schema.partReady, master: schemaOf(state.storage.sql) };
		});
		expect(tables.ready && tables.partReady).toBe(true);
		expect(tables.master).toEqual(await stepwiseSchema());
	});
});

describe("a schema part", () => {
	const partAt = (version: number, steps: Migration[]): SchemaPart => ({
		tables: ["m"],
		part: { version, sql: version === 1 ? "CREATE TABLE m (x INTEGER)" : "CREATE TABLE m (x INTEGER, z INTEGER)" },
		rest: { version, sql: "CREATE TABLE r (y INTEGER)" },
		steps,
	});
	const steps: Migration[] = [
		{ version: 1, name: "m and r", sql: "CREATE TABLE m (x INTEGER); CREATE TABLE r (y INTEGER)" },
		{ version: 2, name: "m.z", sql: "ALTER TABLE m ADD COLUMN z INTEGER" },
	];

	it("is brought forward by its own steps on an object made before them, keeping its rows, then completed by the rest", async () => {
		const outcome = await runInDurableObject(packageObject(uniqueName("part-steps")), (_i, state) => {
			const sql = state.storage.sql;
			const columns = (table: string) =>
				sql
					.exec<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`)
					.toArray()
					.map((c) => c.name);
			const first = new Schema(state.storage, steps.slice(0, 1), undefined, partAt(1, []));
			first.ensurePart();
			sql.exec("INSERT INTO m (x) VALUES (7)");
			const before = { ready: first.ready, partReady: first.partReady, m: columns("m"), r: columns("r") };
			// The code moved on: step 2 changes a table of the part, and is one of the part's steps.
			const later = new Schema(state.storage, steps, undefined, partAt(2, steps.slice(1)));
			const moved = { ready: later.ready, partReady: later.partReady, m: columns("m") };
			later.ensure();
			const applied = sql.exec<{ version: number }>("SELECT version FROM _migrations ORDER BY version").toArray();
			const marker = sql.exec("SELECT 1 FROM sqlite_master WHERE name = '_schema_part'").toArray().length;
			return {
				before,
				moved,
				after: { ready: later.ready, m: columns("m"), r: columns("r"), rows: sql.exec("SELECT x, z FROM m").toArray() },
				applied: applied.map((row) => row.version),
				marker,
			};
		});
		expect(outcome).toEqual({
			before: { ready: false, partReady: true, m: ["x"], r: [] },
			moved: { ready: false, partReady: true, m: ["x", "z"] },
			after: { ready: true, m: ["x", "z"], r: ["y"], rows: [{ x: 7, z: null }] },
			applied: [1, 2],
			marker: 0,
		});
	});

	it("lists every later step that changes one of its tables among its own: the package object's do", () => {
		const part = partAt(2, []);
		// The check finds a step that changes a table of the part without being one of its steps.
		expect(unlistedMirrorSteps(steps, { ...part, tables: ["m"] }, 1)).toEqual([2]);
		expect(unlistedMirrorSteps(steps, { ...part, tables: ["r"] }, 1)).toEqual([]);
		expect(unlistedMirrorSteps(packageMetadataMigrations, packageMirrorPart, MIRROR_PART_SINCE)).toEqual([]);
		expect(packageMirrorPart.steps).toBe(packageMirrorSteps);
		// Parts are made from the squashed script as it is now: it includes every step.
		expect(packageMirrorPart.part.version).toBe(Math.max(...packageMetadataMigrations.map((m) => m.version)));
	});
});
