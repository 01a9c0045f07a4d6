import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { runPackageAlarm } from "./helpers/package-object";
import { ADMIN, ALL, call, createToken, publish, publisherFor, readPackument, uniqueName } from "./helpers/registry";

// /-/v1/search over the RegistryIndexDO: ranking, qualifiers, paging, hostile text, how the index
// follows publishes, and who may see restricted packages.

type SearchResult = {
	objects: {
		package: {
			name: string;
			scope: string;
			version: string;
			description: string;
			keywords: string[];
			date: string;
			links: Record<string, string>;
			publisher: { username: string };
			maintainers: { username: string }[];
		};
		flags?: { deprecated?: string; unstable?: boolean };
		score: { final: number; detail: { quality: number; popularity: number; maintenance: number } };
		searchScore: number;
	}[];
	total: number;
	time: string;
};

/** A search as a fresh copy: the read tier would serve an answer up to READ_CACHE_SECONDS old. */
async function search(text: string, token: string | null = ADMIN, extra = ""): Promise<SearchResult> {
	const res = await call(`/-/v1/search?text=${encodeURIComponent(text)}${extra}`, {
		token,
		headers: { "cache-control": "no-cache" },
	});
	expect(res.status, `search ${text}`).toBe(200);
	return res.json();
}

const names = (result: SearchResult) => result.objects.map((o) => o.package.name);

/** Runs the package object's alarm (index delivery, download flush); then the index must show `check`. */
async function settle(name: string, check: () => Promise<boolean>): Promise<void> {
	await runPackageAlarm(name);
	if (!(await check())) throw new Error(`the index did not converge for ${name}`);
}

/** Publishes and waits until search shows that version. */
async function publishIndexed(
	name: string,
	version: string,
	token: string,
	manifest: Record<string, unknown> = {},
	access: "public" | "restricted" = "public",
) {
	const res = await publish(name, version, token, { manifest, access });
	expect(res.status).toBe(201);
	await settle(name, async () => {
		const found = await search(name, ADMIN, "&size=250");
		return found.objects.some((o) => o.package.name === name && o.package.version === version);
	});
}

describe("search ranking", () => {
	it("ranks an exact name first and words in the name above words in the description", async () => {
		const word = uniqueName("zq").replaceAll("-", "");
		const token = await publisherFor(`@${word}`);
		await publishIndexed(`${word}`, "1.0.0", await publisherFor(word), { description: "plain" });
		await publishIndexed(`@${word}/${word}-tools`, "1.0.0", token, { description: "tools" });
		await publishIndexed(`@${word}/other`, "1.0.0", token, { description: `mentions ${word} in passing` });

		const result = await search(word);
		expect(names(result)).toEqual([word, `@${word}/${word}-tools`, `@${word}/other`]);
		expect(result.objects[0]?.searchScore).toBeGreaterThan(result.objects[1]?.searchScore ?? 0);
		expect(result.total).toBe(3);
		// links.npm is the package's page, as npm prints npmjs.com's, never the JSON packument (#24.6).
		const links = result.objects.map((o) => o.package.links.npm);
		expect(links).toEqual([
			`http://registry.test/package/${word}`,
			`http://registry.test/package/@${word}/${word}-tools`,
			`http://registry.test/package/@${word}/other`,
		]);

		// boost-exact:false leaves the order to relevance and popularity alone.
		const plain = await search(`${word} boost-exact:false`);
		expect(plain.total).toBe(3);
		expect(plain.objects.at(-1)?.package.name).toBe(`@${word}/other`);
		expect(plain.objects.find((o) => o.package.name === word)?.searchScore).toBeLessThan(100_000);
	});

	it("blends popularity from download counts into relevance", async () => {
		const word = uniqueName("pop").replaceAll("-", "");
		const token = await publisherFor(`@${word}`);
		const quiet = `@${word}/quiet`;
		const popular = `@${word}/popular`;
		await publishIndexed(quiet, "1.0.0", token, { description: `${word} library` });
		await publishIndexed(popular, "1.0.0", token, { description: `${word} library` });
		for (let i = 0; i < 30; i++) await (await call(`/${popular}/-/popular-1.0.0.tgz`)).arrayBuffer();
		await settle(popular, async () => {
			const hit = (await search(`${word} library`)).objects.find((o) => o.package.name === popular);
			return (hit?.score.detail.popularity ?? 0) > 0;
		});
		expect(names(await search(`${word} library`))).toEqual([popular, quiet]);
	});
});

describe("search qualifiers", () => {
	it("filters by keywords (any), author, maintainer, scope and deprecation", async () => {
		const scope = uniqueName("q").replaceAll("-", "");
		const token = (await createToken([{ scope: `@${scope}`, permissions: ALL }], "developer", "qual-bot")).token;
		await publishIndexed(`@${scope}/alpha`, "1.0.0", token, {
			keywords: ["Charts", "svg"],
			author: "Ada Lovelace <ada@example.com>",
		});
		await publishIndexed(`@${scope}/beta`, "1.0.0", token, { keywords: ["svg"], author: { name: "Grace" } });
		await publishIndexed(`@${scope}/gamma`, "0.1.0", token, { keywords: ["tables"] });
		const doc = await readPackument(`@${scope}/gamma`, token);
		const version = doc.versions["0.1.0"];
		if (version) version.deprecated = "use alpha";
		await call(`/@${scope}%2fgamma`, { method: "PUT", token, body: JSON.stringify(doc) });
		await settle(`@${scope}/gamma`, async () =>
			(await search(`scope:${scope} is:deprecated`)).objects.some((o) => o.package.name === `@${scope}/gamma`),
		);

		const q = async (text: string) => names(await search(`scope:${scope} ${text}`)).sort();
		expect(await q("")).toEqual([`@${scope}/alpha`, `@${scope}/beta`, `@${scope}/gamma`]);
		expect(await q("keywords:charts,tables")).toEqual([`@${scope}/alpha`, `@${scope}/gamma`]);
		expect(await q("keywords:SVG")).toEqual([`@${scope}/alpha`, `@${scope}/beta`]);
		expect(await q("author:ada")).toEqual([]);
		expect(await q("author:Grace")).toEqual([`@${scope}/beta`]);
		expect(await q("author:qual-bot")).toEqual([`@${scope}/alpha`, `@${scope}/beta`, `@${scope}/gamma`]);
		expect(await q("maintainer:qual-bot")).toEqual([`@${scope}/alpha`, `@${scope}/beta`, `@${scope}/gamma`]);
		expect(await q("maintainer:nobody")).toEqual([]);
		expect(await q("not:deprecated")).toEqual([`@${scope}/alpha`, `@${scope}/beta`]);
		expect(await q("is:deprecated")).toEqual([`@${scope}/gamma`]);
		expect(await q("is:unstable")).toEqual([`@${scope}/gamma`]);
		expect(names(await search(`scope:@${scope} keywords:svg`)).sort()).toEqual([`@${scope}/alpha`, `@${scope}/beta`]);

		const gamma = (await search(`scope:${scope} is:deprecated`)).objects[0];
		expect(gamma?.flags).toEqual({ deprecated: "use alpha", unstable: true });
		expect(gamma?.package.scope).toBe(scope);
	});

	it("pages with from and size and reports the real total", async () => {
		const scope = uniqueName("page").replaceAll("-", "");
		const token = await publisherFor(`@${scope}`);
		for (let i = 0; i < 7; i++) await publishIndexed(`@${scope}/p${i}`, "1.0.0", token);
		const all = await search(`scope:${scope}`);
		expect(all.total).toBe(7);
		const first = await search(`scope:${scope}`, ADMIN, "&size=3");
		const second = await search(`scope:${scope}`, ADMIN, "&size=3&from=3");
		const third = await search(`scope:${scope}`, ADMIN, "&size=3&from=6");
		expect([first.objects.length, second.objects.length, third.objects.length]).toEqual([3, 3, 1]);
		expect(first.total).toBe(7);
		expect(new Set([...names(first), ...names(second), ...names(third)]).size).toBe(7);
		expect((await search(`scope:${scope}`, ADMIN, "&size=1000")).objects).toHaveLength(7);

		for (const bad of ["&size=0", "&size=abc", "&from=-1", "&from=1.5"]) {
			const res = await call(`/-/v1/search?text=x${bad}`);
			expect(res.status, bad).toBe(400);
			expect(await res.json()).toHaveProperty("error");
		}
	});

	it("treats hostile query text as words, never as FTS5 syntax", async () => {
		const word = uniqueName("host").replaceAll("-", "");
		await publishIndexed(word, "1.0.0", await publisherFor(word), { description: `quoted "near" (thing) ${word}` });
		for (const text of [
			'"',
			'"unbalanced',
			"(",
			"a OR b",
			"NEAR(a b)",
			"x NOT y",
			"*",
			"-",
			"-foo",
			"foo*",
			"name:x",
			"^a",
			"'; DROP TABLE packages; --",
			"\u0000",
			"a AND",
			"{a b}",
			`${word} "near"`,
		]) {
			const res = await call(`/-/v1/search?text=${encodeURIComponent(text)}`);
			expect(res.status, text).toBe(200);
		}
		expect(names(await search(`${word} "near"`))).toEqual([word]);
		expect(names(await search(`(thing ${word}`))).toEqual([word]);
		expect((await search("(((")).total).toBe(0);
	});
});

describe("the index follows the package objects", () => {
	it("updates on publish, new versions, deprecation, tag moves and unpublish", async () => {
		const name = uniqueName("follow");
		const token = await publisherFor(name);
		await publishIndexed(name, "1.0.0", token, { description: "first words" });
		expect((await search(name)).objects[0]?.package.description).toBe("first words");

		await publishIndexed(name, "2.0.0", token, { description: "second words" });
		const hit = (await search(name)).objects[0];
		expect(hit?.package.description).toBe("second words");
		expect(hit?.package.version).toBe("2.0.0");

		await call(`/-/package/${name}/dist-tags/latest`, { method: "PUT", token, body: JSON.stringify("1.0.0") });
		await settle(name, async () => (await search(name)).objects[0]?.package.version === "1.0.0");

		const doc = await readPackument(name, token);
		const first = doc.versions["1.0.0"];
		if (first) first.deprecated = "old";
		await call(`/${name}`, { method: "PUT", token, body: JSON.stringify(doc) });
		await settle(name, async () => (await search(name)).objects[0]?.flags?.deprecated === "old");

		const { _rev } = await readPackument(name, token);
		await call(`/${name}/-rev/${_rev}`, { method: "DELETE", token });
		await settle(name, async () => (await search(name)).total === 0);
	});

	it("hides restricted packages from anonymous readers and from customers without a grant", async () => {
		const scope = uniqueName("priv").replaceAll("-", "");
		const name = `@${scope}/secret`;
		await publishIndexed(name, "1.0.0", await publisherFor(`@${scope}`), { description: "hidden" }, "restricted");
		const granted = (await createToken([{ package: name, permissions: ["read"] }], "customer")).token;
		const scoped = (await createToken([{ scope: `@${scope}`, permissions: ["read"] }])).token;
		const other = (await createToken([{ scope: "@elsewhere", permissions: ["read"] }], "customer")).token;
		expect((await search(name, null)).total).toBe(0);
		expect((await search(name, other)).total).toBe(0);
		expect(names(await search(name, granted))).toEqual([name]);
		expect(names(await search(name, scoped))).toEqual([name]);
		expect(names(await search(name, ADMIN))).toEqual([name]);
	});

	it("is rebuilt from scratch by POST /-/admin/reindex", async () => {
		const name = uniqueName("rebuild");
		const token = await publisherFor(name);
		await publishIndexed(name, "1.0.0", token, { description: "rebuilt" });
		const index = env.INDEX.get(env.INDEX.idFromName("index"));
		// The index loses the package (as after data loss or a bad deploy); only a rebuild brings it back.
		expect(await index.remove(name, Number.MAX_SAFE_INTEGER)).toBe(true);
		expect((await search(name)).total).toBe(0);

		expect((await call("/-/admin/reindex", { method: "POST", token })).status).toBe(403);
		const started = await call("/-/admin/reindex", { method: "POST", token: ADMIN });
		expect(started.status).toBe(202);
		expect(await started.json()).toMatchObject({ state: "running" });
		for (let i = 0; i < 100; i++) {
			await runDurableObjectAlarm(index);
			const status = (await (await call("/-/admin/reindex", { token: ADMIN })).json()) as { state: string };
			if (status.state === "idle") break;
		}
		const status = (await (await call("/-/admin/reindex", { token: ADMIN })).json()) as {
			state: string;
			indexed: number;
		};
		expect(status.state).toBe("idle");
		expect(status.indexed).toBeGreaterThan(0);
		expect(names(await search(name))).toEqual([name]);
		expect((await search(name)).objects[0]?.package.description).toBe("rebuilt");
	});
});
