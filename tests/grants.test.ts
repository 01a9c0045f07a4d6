import { describe, expect, it } from "vitest";
import { effectiveGrants } from "../durable-objects/auth/grants";
import type { Restriction } from "../schema/auth/contract";
import type { Grant } from "../schema/requests/admin";

// What a token may do (durable-objects/auth/grants.ts `effectiveGrants`): its own grants and its
// user's, narrowed to the packages and scopes of an npm granular token, and to reading only for
// read-only tokens and customer keys. Pure: exact input → result.

const publishPkg: Grant = { package: "pkg", permissions: ["read", "upload", "publish"] };
const readPkg: Grant = { package: "pkg", permissions: ["read"] };
const scopeS: Grant = { scope: "@s", permissions: ["read", "upload"] };
const inScope: Grant = { package: "@s/a", permissions: ["read", "publish"] };
const inLookalike: Grant = { package: "@sx/a", permissions: ["publish"] };
const scopeT: Grant = { scope: "@t", permissions: ["read"] };

const only = (packages: string[], scopes: string[] = []): Restriction => ({ packages, scopes });

describe("without a restriction", () => {
	it.each<[string, Grant[], boolean, Grant[]]>([
		["keeps every grant as it is", [publishPkg, scopeS], false, [publishPkg, scopeS]],
		["keeps no grants as none", [], false, []],
		[
			"narrows every grant to read for read-only tokens, keeping the subjects",
			[publishPkg, scopeS],
			true,
			[
				{ package: "pkg", permissions: ["read"] },
				{ scope: "@s", permissions: ["read"] },
			],
		],
		[
			"turns any permissions into read, even a grant without read",
			[{ package: "pkg", permissions: ["upload"] }],
			true,
			[{ package: "pkg", permissions: ["read"] }],
		],
	])("%s", (_name, all, readonly, expected) => {
		expect(effectiveGrants(all, null, readonly)).toEqual(expected);
	});
});

describe("restricted to packages", () => {
	it.each<[string, Grant[], Restriction, Grant[]]>([
		["keeps a package grant on the package", [publishPkg, scopeS], only(["pkg"]), [publishPkg]],
		[
			"turns a scope grant into a grant on the one package",
			[scopeS],
			only(["@s/b"]),
			[{ package: "@s/b", permissions: ["read", "upload"] }],
		],
		[
			"merges the package's and its scope's permissions without repeats",
			[inScope, scopeS],
			only(["@s/a"]),
			[{ package: "@s/a", permissions: ["read", "publish", "upload"] }],
		],
		[
			"merges two grants on the same package",
			[readPkg, publishPkg],
			only(["pkg"]),
			[{ package: "pkg", permissions: ["read", "upload", "publish"] }],
		],
		["drops a package nothing covers", [publishPkg, scopeS], only(["other"]), []],
		["never covers an unscoped package with a scope grant", [scopeS], only(["s"]), []],
		["never covers a package of another scope", [scopeS], only(["@t/a"]), []],
		[
			"answers one grant per restricted package, in the restriction's order",
			[publishPkg, scopeS],
			only(["@s/z", "pkg", "none"]),
			[
				{ package: "@s/z", permissions: ["read", "upload"] },
				{ package: "pkg", permissions: ["read", "upload", "publish"] },
			],
		],
	])("%s", (_name, all, restriction, expected) => {
		expect(effectiveGrants(all, restriction, false)).toEqual(expected);
	});
});

describe("restricted to scopes", () => {
	it.each<[string, Grant[], Restriction, Grant[]]>([
		[
			"keeps grants on the scope and on packages inside it",
			[publishPkg, scopeS, inScope, scopeT],
			only([], ["@s"]),
			[scopeS, inScope],
		],
		["does not take a scope that only starts the same way", [inLookalike, scopeS], only([], ["@s"]), [scopeS]],
		["keeps nothing when the holder has no grant in the scope", [publishPkg, scopeT], only([], ["@s"]), []],
		["keeps nothing for an empty restriction", [publishPkg, scopeS], only([], []), []],
		["combines packages and scopes", [publishPkg, scopeS, scopeT], only(["pkg"], ["@t"]), [publishPkg, scopeT]],
	])("%s", (_name, all, restriction, expected) => {
		expect(effectiveGrants(all, restriction, false)).toEqual(expected);
	});

	it("narrows a restricted read-only token to reading what the restriction leaves", () => {
		expect(effectiveGrants([publishPkg, scopeS, scopeT], only(["pkg"], ["@s"]), true)).toEqual([
			{ package: "pkg", permissions: ["read"] },
			{ scope: "@s", permissions: ["read"] },
		]);
	});
});
