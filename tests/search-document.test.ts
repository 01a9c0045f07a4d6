import { describe, expect, it } from "vitest";
import { searchDocument } from "../durable-objects/package/search-document";
import type { Person } from "../schema/package/contract";
import type { SearchDocument } from "../schema/search/contract";
import { packageRow, versionRow } from "./helpers/package-rows";

// What a package tells the search index (durable-objects/package/search-document.ts): its latest
// version's metadata in npm search's terms. Pure: rows made by hand → document.

/** The document of a one-version package whose manifest is `manifest`. */
const documentOf = (manifest: Record<string, unknown>): SearchDocument | null =>
	searchDocument(packageRow(), [versionRow("1.0.0", manifest)], { latest: "1.0.0" }, [], 0);

describe("the search document", () => {
	it("describes the latest version of the package", () => {
		const maintainers: Person[] = [{ name: "alice", email: "alice@example.com" }, { name: "bob" }];
		const rows = [
			versionRow("1.0.0", { description: "old" }),
			versionRow(
				"2.0.0",
				{ description: "current", keywords: ["ui", 3, "widget", null], license: "MIT" },
				{ readme: "# widget", deprecated: "use @acme/gadget", published_by: JSON.stringify({ name: "carol" }) },
			),
			versionRow("3.0.0-beta.1", { description: "next" }),
		];
		const pkg = packageRow({ name: "@acme/widget", access: "restricted", rev: 12 });
		expect(searchDocument(pkg, rows, { latest: "2.0.0", next: "3.0.0-beta.1" }, maintainers, 42)).toEqual({
			name: "@acme/widget",
			scope: "@acme",
			version: "2.0.0",
			description: "current",
			keywords: ["ui", "widget"],
			author: null,
			publisher: { username: "carol" },
			maintainers: [{ username: "alice", email: "alice@example.com" }, { username: "bob" }],
			links: {},
			license: "MIT",
			readme: "# widget",
			date: pkg.modified_at,
			access: "restricted",
			deprecated: "use @acme/gadget",
			weeklyDownloads: 42,
			dailyDownloads: [],
			versionCount: 3,
			publishedAt: rows
				.map((r) => r.published_at)
				.sort()
				.at(-1),
			dependencies: [],
			rev: 12,
		});
	});

	it("#24.9 names what the latest version depends on, once per name, dev dependencies and malformed entries left out", () => {
		const doc = documentOf({
			dependencies: { a: "^1.0.0", both: "1", bad: 3, "": "1" },
			peerDependencies: { p: ">=2", a: "^9" },
			optionalDependencies: { both: "1", o: "x".repeat(300) },
			devDependencies: { d: "1" },
		});
		expect(doc?.dependencies).toEqual([
			{ name: "a", kind: "dependencies", range: "^1.0.0" },
			{ name: "both", kind: "dependencies", range: "1" },
			{ name: "p", kind: "peerDependencies", range: ">=2" },
			{ name: "o", kind: "optionalDependencies", range: "x".repeat(256) },
		]);
		expect(documentOf({ dependencies: ["a"], peerDependencies: "b" })?.dependencies).toEqual([]);
		const many = Object.fromEntries(Array.from({ length: 1_500 }, (_, i) => [`dep-${i}`, "1"]));
		expect(documentOf({ dependencies: many })?.dependencies).toHaveLength(1_000);
	});

	it("carries the recent days' downloads (days without any left out) for the dashboard", () => {
		const daily = [
			{ day: "2026-11-20", downloads: 0 },
			{ day: "2026-11-21", downloads: 4 },
		];
		expect(searchDocument(packageRow(), [versionRow("1.0.0")], { latest: "1.0.0" }, [], 4, daily)).toMatchObject({
			dailyDownloads: [{ day: "2026-11-21", downloads: 4 }],
			versionCount: 1,
		});
	});

	it("has no scope for an unscoped name, and the publisher's email when known", () => {
		expect(documentOf({})).toMatchObject({
			name: "widget",
			scope: null,
			publisher: { username: "alice", email: "alice@example.com" },
		});
	});

	it("takes the last version when there is no latest tag", () => {
		const rows = [versionRow("1.0.0"), versionRow("0.9.0", { description: "published last" })];
		expect(searchDocument(packageRow(), rows, { beta: "1.0.0" }, [], 0)).toMatchObject({
			version: "0.9.0",
			description: "published last",
		});
	});

	it("is null for a package without versions", () => {
		expect(searchDocument(packageRow(), [], {}, [], 0)).toBeNull();
	});

	it.each<[string, unknown]>([
		["a number", 42],
		["an object", { text: "x" }],
		["missing", undefined],
	])("has an empty description and readme when the description is %s and there is no readme", (_name, description) => {
		expect(documentOf({ description })).toMatchObject({ description: "", readme: "" });
	});

	it.each<[string, unknown]>([
		["a string", "ui, widget"],
		["an object", { ui: true }],
		["missing", undefined],
	])("has no keywords when keywords is %s", (_name, keywords) => {
		expect(documentOf({ keywords })?.keywords).toEqual([]);
	});
});

describe("author", () => {
	it.each<[string, Person | null]>([
		["Ada Lovelace <ada@example.com> (https://ada.test)", { name: "Ada Lovelace", email: "ada@example.com" }],
		["Ada Lovelace", { name: "Ada Lovelace" }],
		["Ada <ada@example.com>", { name: "Ada", email: "ada@example.com" }],
		["Ada (https://ada.test)", { name: "Ada" }],
		["  Ada   <ada@example.com>  ", { name: "Ada", email: "ada@example.com" }],
		["Ada <>", { name: "Ada" }],
		["<ada@example.com>", null],
		["", null],
		["   ", null],
		// Not npm's shape: the whole text is the name rather than a guess at its parts.
		["Ada <ada@example.com", { name: "Ada <ada@example.com" }],
	])("reads the string %j", (author, expected) => {
		expect(documentOf({ author })?.author).toEqual(expected);
	});

	it.each<[string, unknown, Person | null]>([
		[
			"name, email and url",
			{ name: "Grace", email: "grace@example.com", url: "https://grace.test" },
			{ name: "Grace", email: "grace@example.com" },
		],
		["a name only", { name: "Grace" }, { name: "Grace" }],
		["an email that is not a string", { name: "Grace", email: 7 }, { name: "Grace" }],
		["no name", { email: "grace@example.com" }, null],
		["a name that is not a string", { name: 7 }, null],
		["a number", 7, null],
		["null", null, null],
		["nothing", undefined, null],
	])("reads an author given as %s", (_name, author, expected) => {
		expect(documentOf({ author })?.author).toEqual(expected);
	});
});

describe("links", () => {
	it.each<[string, Record<string, unknown>, Record<string, string>]>([
		["a homepage string", { homepage: "https://widget.test" }, { homepage: "https://widget.test" }],
		[
			"a repository string, without git+ and .git",
			{ repository: "git+https://github.com/acme/widget.git" },
			{ repository: "https://github.com/acme/widget" },
		],
		[
			"a repository object's url, without git+ and .git",
			{ repository: { type: "git", url: "git+ssh://git@github.com/acme/widget.git" } },
			{ repository: "ssh://git@github.com/acme/widget" },
		],
		["a shorthand repository as it is", { repository: "github:acme/widget" }, { repository: "github:acme/widget" }],
		[
			".git only at the end",
			{ repository: "https://git.example.com/a.github/widget" },
			{ repository: "https://git.example.com/a.github/widget" },
		],
		["a bugs object's url", { bugs: { url: "https://bugs.test" } }, { bugs: "https://bugs.test" }],
		["nothing for bugs with only an email", { bugs: { email: "bugs@example.com" } }, {}],
		["nothing for empty strings", { homepage: "", repository: "", bugs: "" }, {}],
		["nothing for a url that is not a string", { homepage: 42, repository: { url: 42 } }, {}],
		[
			"all three together",
			{ homepage: "https://h.test", repository: "https://r.test/x.git", bugs: "https://b.test" },
			{ homepage: "https://h.test", repository: "https://r.test/x", bugs: "https://b.test" },
		],
	])("takes %s", (_name, manifest, expected) => {
		expect(documentOf(manifest)?.links).toEqual(expected);
	});
});

describe("license", () => {
	it.each<[string, unknown, string | null]>([
		["an SPDX string", "MIT", "MIT"],
		["an expression", "(MIT OR Apache-2.0)", "(MIT OR Apache-2.0)"],
		["an object's type", { type: "ISC", url: "https://opensource.org/licenses/ISC" }, "ISC"],
		["nothing for an object without a type", { url: "https://example.com/license" }, null],
		["nothing for an array", [{ type: "MIT" }], null],
		["nothing for a number", 42, null],
		["nothing when missing", undefined, null],
	])("takes %s", (_name, license, expected) => {
		expect(documentOf({ license })?.license).toBe(expected);
	});
});
