import { describe, expect, it } from "vitest";
import { abbreviatedPackument, asPeople, fullPackument, versionDocument } from "../durable-objects/package/packument";
import type { Person } from "../schema/package/contract";
import { PLACEHOLDER, packageRow, versionRow } from "./helpers/package-rows";

// The npm documents a package object stores (durable-objects/package/packument.ts), built from
// rows made by hand: the version document, the full packument and the abbreviated one installers ask for.

const maintainers: Person[] = [{ name: "alice", email: "alice@example.com" }, { name: "bob" }];
/** As documents show them: npm prints `name <email>`, so one without an email gets "" (#24.6). */
const shownMaintainers = [
	{ name: "alice", email: "alice@example.com" },
	{ name: "bob", email: "" },
];

describe("version document", () => {
	it("is the manifest with the registry's own fields on top of whatever the client sent", () => {
		const manifest = {
			name: "evil",
			version: "6.6.6",
			_id: "evil@6.6.6",
			description: "a widget",
			main: "index.js",
			dist: { tarball: "http://elsewhere.test/evil.tgz" },
			maintainers: [{ name: "mallory" }],
			_npmUser: { name: "mallory" },
		};
		expect(versionDocument(packageRow(), versionRow("1.2.0", manifest), asPeople(maintainers))).toEqual({
			name: "widget",
			version: "1.2.0",
			_id: "widget@1.2.0",
			description: "a widget",
			main: "index.js",
			_npmUser: { name: "alice", email: "alice@example.com" },
			maintainers: shownMaintainers,
			dist: {
				integrity: "sha512-1.2.0",
				shasum: "sha1-1.2.0",
				tarball: `${PLACEHOLDER}/widget/-/widget-1.2.0.tgz`,
				fileCount: 2,
				unpackedSize: 300,
			},
		});
	});

	it.each([
		["widget", "1.0.0", `${PLACEHOLDER}/widget/-/widget-1.0.0.tgz`],
		["@acme/widget", "2.0.0-beta.1", `${PLACEHOLDER}/@acme/widget/-/widget-2.0.0-beta.1.tgz`],
	])("points the tarball of %s@%s at the placeholder base: %s", (name, version, tarball) => {
		const doc = versionDocument(packageRow({ name }), versionRow(version), []);
		expect((doc.dist as { tarball: string }).tarball).toBe(tarball);
	});

	it.each<[string, string | null, string | undefined]>([
		["carries the deprecation message of a deprecated version", "use 2.0.0", "use 2.0.0"],
		["has no deprecated field otherwise", null, undefined],
	])("%s", (_name, deprecated, expected) => {
		const doc = versionDocument(packageRow(), versionRow("1.0.0", {}, { deprecated }), []);
		expect(doc.deprecated).toBe(expected);
		expect("deprecated" in doc).toBe(expected !== undefined);
	});
});

describe("full packument", () => {
	const pkg = packageRow();
	const versions = [
		versionRow(
			"1.0.0",
			{
				description: "one",
				author: "Ada",
				license: "MIT",
				homepage: "https://one.test",
				keywords: ["one"],
				repository: "github:a/one",
				bugs: "https://one.test/issues",
			},
			{ published_at: "2026-01-02T00:00:00.000Z", readme: "# one", readme_filename: "README.md" },
		),
		versionRow(
			"2.0.0",
			{ description: "two", license: "ISC", main: "two.js" },
			{ published_at: "2026-01-03T00:00:00.000Z", readme: "two", readme_filename: "readme.txt" },
		),
		versionRow(
			"3.0.0-beta.1",
			{ description: "three", homepage: "https://three.test" },
			{ published_at: "2026-01-04T00:00:00.000Z", readme: "# three", readme_filename: "README.md" },
		),
	];
	const tags = { latest: "2.0.0", next: "3.0.0-beta.1" };

	it("has the package's identity, tags, every version, the time map and the latest version's readme", () => {
		const doc = fullPackument(pkg, versions, tags, maintainers);
		expect(doc).toEqual({
			_id: "widget",
			_rev: "7-cafe",
			name: "widget",
			description: "two",
			license: "ISC",
			"dist-tags": tags,
			versions: Object.fromEntries(
				versions.map((row) => [row.version, versionDocument(pkg, row, asPeople(maintainers))]),
			),
			time: {
				created: "2026-01-01T00:00:00.000Z",
				modified: "2026-01-05T00:00:00.000Z",
				"1.0.0": "2026-01-02T00:00:00.000Z",
				"2.0.0": "2026-01-03T00:00:00.000Z",
				"3.0.0-beta.1": "2026-01-04T00:00:00.000Z",
			},
			maintainers: shownMaintainers,
			readme: "two",
			readmeFilename: "readme.txt",
			users: {},
		});
	});

	const latestFields: [string, unknown][] = [
		["description", "the latest description"],
		["author", { name: "Ada", email: "ada@example.com" }],
		["license", "Apache-2.0"],
		["homepage", "https://latest.test"],
		["keywords", ["latest", "words"]],
		["repository", { type: "git", url: "git+https://github.com/a/b.git" }],
		["bugs", { url: "https://github.com/a/b/issues" }],
	];

	it.each(latestFields)("repeats the latest version's %s at the top, not the newest one's", (field, value) => {
		const rows = [
			versionRow("1.0.0", { [field]: "older" }),
			versionRow("2.0.0", { [field]: value }),
			versionRow("3.0.0", { [field]: "newer" }),
		];
		expect(fullPackument(pkg, rows, { latest: "2.0.0" }, [])[field]).toEqual(value);
	});

	it.each(latestFields)("leaves %s out of the top when the latest version has none", (field) => {
		const rows = [versionRow("1.0.0", { [field]: "older" }), versionRow("2.0.0", {})];
		expect(field in fullPackument(pkg, rows, { latest: "2.0.0" }, [])).toBe(false);
	});

	it.each(["main", "dependencies", "scripts", "engines", "bin"])("never repeats %s at the top", (field) => {
		const rows = [versionRow("1.0.0", { [field]: { x: "1" } })];
		expect(field in fullPackument(pkg, rows, { latest: "1.0.0" }, [])).toBe(false);
	});

	it("takes the last version as the latest when no latest tag exists", () => {
		const doc = fullPackument(pkg, versions, { next: "3.0.0-beta.1", old: "1.0.0" }, []);
		expect(doc).toMatchObject({ description: "three", homepage: "https://three.test", readme: "# three" });
	});

	it("has an empty readme when the latest version has none, and for a package without versions", () => {
		const bare = fullPackument(pkg, [versionRow("1.0.0")], { latest: "1.0.0" }, []);
		expect([bare.readme, bare.readmeFilename]).toEqual(["", ""]);
		expect(fullPackument(pkg, [], {}, [])).toMatchObject({
			readme: "",
			readmeFilename: "",
			versions: {},
			time: { created: pkg.created_at, modified: pkg.modified_at },
		});
	});
});

describe("abbreviated packument", () => {
	const pkg = packageRow({ name: "@acme/widget" });
	const installFields: Record<string, unknown> = {
		dependencies: { a: "^1.0.0" },
		optionalDependencies: { b: "^1.0.0" },
		devDependencies: { c: "^1.0.0" },
		peerDependencies: { d: "^1.0.0" },
		peerDependenciesMeta: { d: { optional: true } },
		bundleDependencies: ["a"],
		bundledDependencies: ["a"],
		acceptDependencies: { a: "^2.0.0" },
		bin: { widget: "cli.js" },
		directories: { bin: "bin" },
		engines: { node: ">=20" },
		os: ["linux"],
		cpu: ["x64"],
		libc: ["glibc"],
		funding: "https://fund.test",
		license: "MIT",
		_hasShrinkwrap: false,
		hasInstallScript: true,
	};
	const otherFields: Record<string, unknown> = {
		description: "a widget",
		main: "index.js",
		scripts: { test: "vitest" },
		keywords: ["ui"],
		author: "Ada",
		repository: "github:acme/widget",
		homepage: "https://widget.test",
		_nodeVersion: "24.0.0",
	};
	const row = versionRow("1.0.0", { ...installFields, ...otherFields }, { deprecated: "use 2" });
	const doc = abbreviatedPackument(pkg, [row], { latest: "1.0.0" });
	const version = (doc.versions as Record<string, Record<string, unknown>>)["1.0.0"] ?? {};

	it("has only the name, modification time, tags and versions", () => {
		expect(Object.keys(doc).sort()).toEqual(["dist-tags", "modified", "name", "versions"]);
		expect(doc).toMatchObject({ name: "@acme/widget", modified: pkg.modified_at, "dist-tags": { latest: "1.0.0" } });
	});

	it.each(Object.keys(installFields))("keeps %s, which installers need", (field) => {
		expect(version[field]).toEqual(installFields[field]);
	});

	it.each([...Object.keys(otherFields), "_id", "_npmUser", "maintainers"])("drops %s", (field) => {
		expect(field in version).toBe(false);
	});

	it("keeps the name, version, deprecation and the dist with the placeholder tarball URL", () => {
		expect(version).toMatchObject({
			name: "@acme/widget",
			version: "1.0.0",
			deprecated: "use 2",
			dist: {
				integrity: "sha512-1.0.0",
				shasum: "sha1-1.0.0",
				tarball: `${PLACEHOLDER}/@acme/widget/-/widget-1.0.0.tgz`,
				fileCount: 2,
				unpackedSize: 300,
			},
		});
	});
});
