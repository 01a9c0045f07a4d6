import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { applyMigrations } from "../durable-objects/migrations";
import { packageMetadataMigrations } from "../schema/package/migrations";
import { registryIndexMigrations } from "../schema/search/migrations";
import { actorNamed, packageStub, publishInput, runPackageAlarm } from "./helpers/package-object";
import { uniqueName } from "./helpers/registry";

// What the pages read, at the objects: a package page in one call of the package object (its
// README rendered at publish, its channels' rollback targets), and the index's registry-wide
// figures (recent packages, which names exist, the dashboard's totals and downloads per day).

const index = () => env.INDEX.get(env.INDEX.idFromName("index"));
const everyone = { all: false, packages: [], scopes: [] };

describe("the package object's page", () => {
	it("answers everything a package page shows in one call, the README as stored HTML", async () => {
		const name = uniqueName("page-object");
		const stub = packageStub(name);
		const first = await stub.publish(
			publishInput(name, "1.0.0", {
				manifest: { name, version: "1.0.0", license: "MIT", dependencies: { a: "^1.0.0", bad: 3 } },
				readme: { readme: "# One", filename: "README.md" },
				readmeHtml: "<h1>One</h1>",
			}),
		);
		expect(first.ok).toBe(true);
		await stub.publish(publishInput(name, "2.0.0", { readme: { readme: "# Two", filename: "README.md" } }));
		await stub.moveChannel("stable", { version: "1.0.0" }, actorNamed());
		await stub.moveChannel("stable", { version: "2.0.0" }, actorNamed());

		const latest = await stub.page(null);
		if (!latest.ok) throw new Error(latest.message);
		expect(latest.value.selected.version).toBe("2.0.0");
		// No HTML was stored for 2.0.0 (as for versions published before rendering existed): the markdown comes instead.
		expect(latest.value.selected).toMatchObject({ readmeHtml: null, readme: "# Two" });
		expect(latest.value.versions.map((v) => [v.version, v.tags])).toEqual([
			["2.0.0", ["latest", "stable"]],
			["1.0.0", []],
		]);
		const stable = latest.value.channels.find((c) => c.channel === "stable");
		expect(stable?.history.map((h) => [h.version, h.current, h.rollbackTarget])).toEqual([
			["2.0.0", true, false],
			["1.0.0", false, true],
		]);

		const older = await stub.page("1.0.0");
		if (!older.ok) throw new Error(older.message);
		expect(older.value.selected).toMatchObject({
			readmeHtml: "<h1>One</h1>",
			readme: null,
			license: "MIT",
			dependencies: { a: "^1.0.0" },
		});
		const missing = await stub.page("9.9.9");
		expect(missing).toMatchObject({ ok: false, code: "notFound", access: "public" });
		expect(await packageStub(uniqueName("never")).page(null)).toMatchObject({ ok: false, code: "notFound" });
	});

	it("drops a version's README with the version", async () => {
		const name = uniqueName("page-readme-gone");
		const stub = packageStub(name);
		await stub.publish(publishInput(name, "1.0.0"));
		await stub.publish(publishInput(name, "2.0.0", { readmeHtml: "<p>two</p>", tags: [] }));
		expect((await stub.deleteVersion({ version: "2.0.0" }, false, actorNamed())).ok).toBe(true);
		const rows = await runInDurableObject(stub, (_i, state) =>
			state.storage.sql.exec("SELECT version FROM version_readmes").toArray(),
		);
		expect(rows).toEqual([]);
	});
});

describe("the index's registry-wide figures", () => {
	it("knows recent packages, which names exist, and totals with downloads per day", async () => {
		const name = uniqueName("figures");
		const stub = packageStub(name);
		await stub.publish(publishInput(name, "1.0.0"));
		await stub.publish(publishInput(name, "1.1.0"));
		await stub.countDownloads({ "1.1.0": 7 });
		await runPackageAlarm(name);

		const today = new Date().toISOString().slice(0, 10);
		const overview = await index().overview(today);
		expect(overview.packages).toBeGreaterThan(0);
		expect(overview.versions).toBeGreaterThanOrEqual(2);
		expect(overview.downloadsPerDay).toHaveLength(30);
		expect(overview.downloadsPerDay.at(-1)?.day).toBe(today);
		expect(overview.downloadsPerDay.at(-1)?.downloads).toBeGreaterThanOrEqual(7);
		expect(overview.top.find((p) => p.name === name)).toMatchObject({ weeklyDownloads: 7, versionCount: 2 });

		expect((await index().recent(everyone, 100)).some((p) => p.name === name)).toBe(true);
		expect(await index().known([name, uniqueName("nowhere")], everyone)).toEqual([name]);
	});

	it("hides restricted packages from lists unless the asker may read them", async () => {
		const name = uniqueName("figures-restricted");
		await packageStub(name).publish(publishInput(name, "1.0.0", { access: "restricted" }));
		await runPackageAlarm(name);
		expect(await index().known([name], everyone)).toEqual([]);
		expect(await index().known([name], { all: false, packages: [name], scopes: [] })).toEqual([name]);
		expect((await index().recent(everyone, 100)).some((p) => p.name === name)).toBe(false);
	});
});

describe("migrations 4", () => {
	it("take an index on schema 3 forward: published_at from date, rows kept", async () => {
		const stub = env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName("index-schema")));
		const rows = await runInDurableObject(stub, (_i, state) => {
			applyMigrations(state.storage, registryIndexMigrations.slice(0, 3));
			state.storage.sql.exec(
				`INSERT INTO packages (name, version, description, keywords, publisher, maintainers, links, date, access, quality, rev)
				 VALUES ('old', '1.0.0', '', '[]', '{}', '[]', '{}', '2026-01-01T00:00:00.000Z', 'public', 0, 1)`,
			);
			applyMigrations(state.storage, registryIndexMigrations);
			return state.storage.sql.exec("SELECT name, published_at, version_count FROM packages").toArray();
		});
		expect(rows).toEqual([{ name: "old", published_at: "2026-01-01T00:00:00.000Z", version_count: 0 }]);
	});

	it("take a package object on schema 3 forward, keeping its versions", async () => {
		const stub = env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName("package-schema")));
		const tables = await runInDurableObject(stub, (_i, state) => {
			applyMigrations(state.storage, packageMetadataMigrations.slice(0, 3));
			applyMigrations(state.storage, packageMetadataMigrations);
			return state.storage.sql
				.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE name = 'version_readmes'")
				.toArray();
		});
		expect(tables).toEqual([{ name: "version_readmes" }]);
	});
});
