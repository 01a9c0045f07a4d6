import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { applyMigrations } from "../durable-objects/migrations";
import type { RegistryIndexDO } from "../durable-objects/search/registry-index";
import type { SearchDocument } from "../schema/search/contract";
import { registryIndexMigrations } from "../schema/search/migrations";
import { runPackageAlarm } from "./helpers/package-object";
import { ADMIN, BASE, call, createToken, publish, publisherFor, readPackument, uniqueName } from "./helpers/registry";

// A package page's "used by" (#24.9): which packages of this registry depend on it (their latest
// version's dependencies, peer or optional), linked and counted, bounded, never naming a
// restricted dependent to someone who may not read it (DESIGN invariant 8), and following the
// dependents' publishes, deprecations and unpublishes through the search index.

const index = () => env.INDEX.get(env.INDEX.idFromName("index"));

/** Publishes and waits until the index has heard of it. */
async function published(
	name: string,
	token: string,
	manifest: Record<string, unknown> = {},
	options: { version?: string; access?: "public" | "restricted" } = {},
) {
	const res = await publish(name, options.version ?? "1.0.0", token, { manifest, access: options.access ?? "public" });
	expect(res.status, `publish ${name}`).toBe(201);
	await runPackageAlarm(name);
}

/** The page as a fresh copy (the read tier would keep the dependents up to READ_CACHE_SECONDS). */
async function pageText(name: string, headers: Record<string, string> = {}): Promise<string> {
	const res = await SELF.fetch(`${BASE}/package/${name}`, { headers: { "cache-control": "no-cache", ...headers } });
	expect(res.status).toBe(200);
	return res.text();
}

/** The "used by" section of a page. */
function usedBy(page: string): string {
	return /<section aria-labelledby="dependents-title"[\s\S]*?<\/section>/.exec(page)?.[0] ?? "";
}

describe("dependents on the package page (#24.9)", () => {
	it("#24.9 lists the packages whose latest version depends on it, linked and counted; dev dependencies are not uses", async () => {
		const base = uniqueName("dep-base");
		await published(base, await publisherFor(base));
		const user = uniqueName("dep-user");
		const peer = uniqueName("dep-peer");
		const optional = uniqueName("dep-optional");
		const dev = uniqueName("dep-dev");
		await published(user, await publisherFor(user), { dependencies: { [base]: "^1.0.0", other: "1" } });
		await published(peer, await publisherFor(peer), { peerDependencies: { [base]: ">=1" } });
		await published(optional, await publisherFor(optional), { optionalDependencies: { [base]: "*" } });
		await published(dev, await publisherFor(dev), { devDependencies: { [base]: "^1.0.0" } });

		const section = usedBy(await pageText(base));
		expect(section).toContain("Used by (3)");
		expect(section).toContain(
			`<a href="/package/${user}">${user}</a> <span class="version">1.0.0</span> <code>^1.0.0</code></li>`,
		);
		expect(section).toContain(
			`<a href="/package/${peer}">${peer}</a> <span class="version">1.0.0</span> <code>&gt;=1</code> <span class="tag">peer</span>`,
		);
		expect(section).toContain(`<a href="/package/${optional}">${optional}</a>`);
		expect(section).toContain("latest version depends on");
		expect(section).not.toContain(dev);
		// The dependent's own page names no one.
		expect(usedBy(await pageText(user))).toContain("Used by (0)");
	});

	it("#24.9 never names a restricted dependent to someone without a grant on it; a reader and the admin see it", async () => {
		const base = uniqueName("dep-open");
		await published(base, await publisherFor(base));
		const scope = `@${uniqueName("depsecret").replaceAll("-", "")}`;
		const secret = `${scope}/consumer`;
		const owner = await publisherFor(scope);
		await published(secret, owner, { dependencies: { [base]: "^1.0.0" } }, { access: "restricted" });
		const visible = uniqueName("dep-visible");
		await published(visible, await publisherFor(visible), { dependencies: { [base]: "^1.0.0" } });

		const anonymous = usedBy(await pageText(base));
		expect(anonymous).toContain("Used by (1)");
		expect(anonymous).toContain(visible);
		expect(anonymous).not.toContain(secret);
		expect(anonymous).not.toContain(scope);
		// A token with grants elsewhere sees no more than anyone.
		const stranger = (await createToken([{ scope: "@elsewhere", permissions: ["read"] }], "customer")).token;
		const strangers = usedBy(await pageText(base, { authorization: `Bearer ${stranger}` }));
		expect(strangers).toContain("Used by (1)");
		expect(strangers).not.toContain(scope);
		// Cached answers too: the public view, kept, never carries it, and the grant's view is its own.
		const kept = await (await SELF.fetch(`${BASE}/package/${base}`)).text();
		expect(usedBy(kept)).not.toContain(scope);

		const reader = (await createToken([{ package: secret, permissions: ["read"] }], "customer")).token;
		for (const token of [reader, owner, ADMIN]) {
			const section = usedBy(await pageText(base, { authorization: `Bearer ${token}` }));
			expect(section).toContain("Used by (2)");
			expect(section).toContain(`<a href="/package/${secret}">${secret}</a>`);
		}
		expect(usedBy(await pageText(base))).not.toContain(scope);
	});

	it("#24.9 follows the dependents: a deprecated latest is marked, a latest without the dependency and an unpublish take it off", async () => {
		const base = uniqueName("dep-moving");
		await published(base, await publisherFor(base));
		const leaving = uniqueName("dep-leaving");
		const leavingToken = await publisherFor(leaving);
		await published(leaving, leavingToken, { dependencies: { [base]: "^1.0.0" } });
		const gone = uniqueName("dep-gone");
		const goneToken = await publisherFor(gone);
		await published(gone, goneToken, { dependencies: { [base]: "^1.0.0" } });
		const old = uniqueName("dep-old");
		const oldToken = await publisherFor(old);
		await published(old, oldToken, { peerDependencies: { [base]: "^1.0.0" } });
		expect(usedBy(await pageText(base))).toContain("Used by (3)");

		const doc = await readPackument(old, oldToken);
		const first = doc.versions["1.0.0"];
		if (first) first.deprecated = "use something else";
		expect((await call(`/${old}`, { method: "PUT", token: oldToken, body: JSON.stringify(doc) })).status).toBe(200);
		await runPackageAlarm(old);
		expect(usedBy(await pageText(base))).toMatch(
			new RegExp(`<a href="/package/${old}">${old}</a>.*<span class="tag">deprecated</span></li>`),
		);

		await published(leaving, leavingToken, { dependencies: { other: "1" } }, { version: "2.0.0" });
		const { _rev } = await readPackument(gone, goneToken);
		expect((await call(`/${gone}/-rev/${_rev}`, { method: "DELETE", token: goneToken })).status).toBe(200);
		await runPackageAlarm(gone);

		const section = usedBy(await pageText(base));
		expect(section).toContain("Used by (1)");
		expect(section).not.toContain(leaving);
		expect(section).not.toContain(gone);
		expect(section).toContain(old);
	});

	it("#24.9 names at most 50, most downloaded first, and counts the rest", async () => {
		const base = uniqueName("dep-popular");
		await published(base, await publisherFor(base));
		const prefix = uniqueName("dep-many");
		for (let i = 0; i < 53; i++) {
			await index().upsert(
				documentOf(`${prefix}-${String(i).padStart(2, "0")}`, { [base]: `^${i}.0.0` }, i === 7 ? 1_000 : 0),
			);
		}
		const section = usedBy(await pageText(base));
		expect(section).toContain("Used by (53)");
		expect(section.match(/<li>/g)).toHaveLength(50);
		expect(section).toContain("and 3 more.");
		// The most downloaded first, then by name.
		expect(section.indexOf(`${prefix}-07`)).toBeLessThan(section.indexOf(`${prefix}-00`));
		expect(section).not.toContain(`${prefix}-52`);
	});
});

describe("the index's dependents (#24.9)", () => {
	it("#24.9 migration 6 keeps an index's rows and marks them for a refresh; a new index has none to do", async () => {
		const stub = env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName("index-schema-6")));
		const after = await runInDurableObject(stub, (_i, state) => {
			applyMigrations(state.storage, registryIndexMigrations.slice(0, 5));
			state.storage.sql.exec(
				`INSERT INTO packages (name, version, description, keywords, publisher, maintainers, links, date, access, quality, rev)
				 VALUES ('old', '1.0.0', '', '[]', '{}', '[]', '{}', '2026-01-01T00:00:00.000Z', 'public', 0, 1)`,
			);
			applyMigrations(state.storage, registryIndexMigrations);
			return {
				names: state.storage.sql.exec("SELECT name FROM packages").toArray(),
				cursor: state.storage.sql.exec("SELECT refresh_cursor FROM reindex").one().refresh_cursor,
			};
		});
		expect(after).toEqual({ names: [{ name: "old" }], cursor: "" });
		const fresh = env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName("index-schema-new")));
		const cursor = await runInDurableObject(fresh, (_i, state) => {
			applyMigrations(state.storage, registryIndexMigrations);
			return state.storage.sql.exec("SELECT refresh_cursor FROM reindex").one().refresh_cursor;
		});
		expect(cursor).toBeNull();
	});

	it("#24.9 migration 6 asks the packages it knew before for their documents again, from its alarm", async () => {
		const base = uniqueName("dep-refresh");
		const user = uniqueName("dep-refresh-user");
		await published(base, await publisherFor(base));
		await published(user, await publisherFor(user), { dependencies: { [base]: "^1.0.0" } });
		const everyone = { all: false, packages: [], scopes: [] };
		expect((await index().dependents(base, everyone, 10)).total).toBe(1);

		// As an index migrated from schema 5 finds itself: rows without dependencies, the refresh due.
		await runInDurableObject(index(), async (instance: RegistryIndexDO, state) => {
			state.storage.sql.exec(`DELETE FROM package_dependencies`);
			state.storage.sql.exec(`UPDATE reindex SET refresh_cursor = ''`);
			expect(instance.dependents(base, everyone, 10).total).toBe(0);
			// Pages of 100 names until none are left.
			for (let i = 0; i < 100; i++) {
				await instance.alarm();
				if (state.storage.sql.exec(`SELECT refresh_cursor FROM reindex`).one().refresh_cursor === null) break;
			}
		});
		const found = await index().dependents(base, everyone, 10);
		expect(found.dependents.map((d) => [d.name, d.range, d.kind])).toEqual([[user, "^1.0.0", "dependencies"]]);
	});
});

function documentOf(name: string, dependencies: Record<string, string>, weeklyDownloads: number): SearchDocument {
	return {
		name,
		scope: null,
		version: "1.0.0",
		description: "",
		keywords: [],
		author: null,
		publisher: { username: "bot" },
		maintainers: [],
		links: {},
		license: null,
		readme: "",
		date: "2026-01-01T00:00:00.000Z",
		access: "public",
		deprecated: null,
		weeklyDownloads,
		dailyDownloads: [],
		versionCount: 1,
		publishedAt: "2026-01-01T00:00:00.000Z",
		dependencies: Object.entries(dependencies).map(([dep, range]) => ({ name: dep, kind: "dependencies", range })),
		rev: 1,
	};
}
