import { describe, expect, it } from "vitest";
import type { Grant } from "../schema/requests/admin";
import type { SearchQuery } from "../schema/search/contract";
import type { Principal } from "../worker/auth/principal";
import { HttpError } from "../worker/errors";
import { parseSearchQuery } from "../worker/search/query";

// How /-/v1/search?text=&size=&from= becomes a query for the index (worker/search/query.ts):
// qualifiers as the public registry reads them, free words, paging, and what the asker may read.

const anonymous: Principal = { kind: "anonymous", ip: null };
const admin: Principal = { kind: "admin", ip: null, name: "admin", tokenId: null, prefix: null, email: null };

function tokenHolder(kind: "developer" | "customer", grants: Grant[]): Principal {
	return {
		kind,
		ip: null,
		name: "holder",
		tokenId: "t1",
		prefix: "dev_00000000",
		email: null,
		account: null,
		grants,
		totp: false,
		bypassTwoFactor: false,
		readonly: false,
		restricted: false,
	};
}

const parse = (text: string, principal: Principal = anonymous) => parseSearchQuery({ text }, principal);

const blank: Omit<SearchQuery, "readable"> = {
	terms: [],
	text: "",
	keywords: [],
	author: null,
	maintainer: null,
	scope: null,
	deprecated: null,
	unstable: null,
	boostExact: true,
	size: 20,
	from: 0,
};

describe("qualifiers", () => {
	it.each<[string, Partial<SearchQuery>]>([
		["keywords:Charts,SVG", { keywords: ["charts", "svg"] }],
		["keywords:a,,b", { keywords: ["a", "b"] }],
		["keywords:a keywords:b", { keywords: ["a", "b"] }],
		["keywords:,", { keywords: [] }],
		["KEYWORDS:Ui", { keywords: ["ui"] }],
		["author:Ada", { author: "ada" }],
		["author:ada author:grace", { author: "grace" }],
		["maintainer:Bob", { maintainer: "bob" }],
		["scope:acme", { scope: "@acme" }],
		["scope:@Acme", { scope: "@acme" }],
		["is:deprecated", { deprecated: true }],
		["not:deprecated", { deprecated: false }],
		["is:unstable", { unstable: true }],
		["not:unstable", { unstable: false }],
		["IS:Deprecated", { deprecated: true }],
		["boost-exact:false", { boostExact: false }],
		["boost-exact:FALSE", { boostExact: false }],
		["boost-exact:true", { boostExact: true }],
		["boost-exact:no", { boostExact: true }],
		[
			"widget scope:acme keywords:ui is:deprecated charts",
			{ terms: ["widget", "charts"], text: "widget charts", scope: "@acme", keywords: ["ui"], deprecated: true },
		],
	])("reads %j", (text, expected) => {
		expect(parse(text)).toEqual({ ...blank, readable: { all: false, packages: [], scopes: [] }, ...expected });
	});

	it.each([
		["is:popular", "an unknown is: value"],
		["not:maintained", "an unknown not: value"],
		["keywords:", "a qualifier without a value"],
		["license:mit", "an unknown qualifier"],
		["name:x", "an unknown qualifier"],
	])("keeps %j as a word (%s)", (text) => {
		expect(parse(text)).toMatchObject({ terms: [text], text, keywords: [], deprecated: null, unstable: null });
	});
});

describe("free words", () => {
	it.each<[string, string[], string]>([
		["react hooks", ["react", "hooks"], "react hooks"],
		["  spaced \t out \n ", ["spaced", "out"], "spaced out"],
		["Widget", ["Widget"], "Widget"],
		['"near" (thing', ['"near"', "(thing"], '"near" (thing'],
		["café 東京 42", ["café", "東京", "42"], "café 東京 42"],
		['( - * ((( "', [], '( - * ((( "'],
		["a OR b", ["a", "OR", "b"], "a OR b"],
		["", [], ""],
	])("reads %j as terms %j and text %j", (input, terms, text) => {
		expect(parse(input)).toMatchObject({ terms, text });
	});

	it("keeps at most 16 terms, but the whole text for the exact-name boost", () => {
		const words = Array.from({ length: 20 }, (_, i) => `w${i}`);
		const query = parse(words.join(" "));
		expect(query.terms).toEqual(words.slice(0, 16));
		expect(query.text).toBe(words.join(" "));
	});

	it("drops terms without letters or digits before counting to 16", () => {
		const text = [...Array.from({ length: 10 }, () => "-"), ...Array.from({ length: 16 }, (_, i) => `w${i}`)].join(" ");
		expect(parse(text).terms).toHaveLength(16);
	});

	it("reads at most the first 1,000 characters of the text", () => {
		const query = parse(`${"a".repeat(1_500)} tail`);
		expect(query.terms).toEqual(["a".repeat(1_000)]);
	});
});

describe("paging", () => {
	it.each<[Record<string, string | string[]>, { size: number; from: number }]>([
		[{}, { size: 20, from: 0 }],
		[
			{ size: "", from: "" },
			{ size: 20, from: 0 },
		],
		[
			{ size: "5", from: "10" },
			{ size: 5, from: 10 },
		],
		[{ size: "1" }, { size: 1, from: 0 }],
		[{ size: "250" }, { size: 250, from: 0 }],
		[{ size: "1000" }, { size: 250, from: 0 }],
		[{ from: "0" }, { size: 20, from: 0 }],
		[
			{ size: ["3", "9"], from: ["4", "x"] },
			{ size: 3, from: 4 },
		],
	])("reads %j", (query, expected) => {
		expect(parseSearchQuery(query, anonymous)).toMatchObject(expected);
	});

	it.each<[Record<string, string>, string]>([
		[{ size: "0" }, "size must be an integer of at least 1"],
		[{ size: "-3" }, "size must be an integer of at least 1"],
		[{ size: "abc" }, "size must be an integer of at least 1"],
		[{ size: "2.5" }, "size must be an integer of at least 1"],
		[{ from: "-1" }, "from must be an integer of at least 0"],
		[{ from: "1.5" }, "from must be an integer of at least 0"],
		[{ from: "ten" }, "from must be an integer of at least 0"],
	])("refuses %j with 400", (query, message) => {
		let refusal: unknown = null;
		try {
			parseSearchQuery(query, anonymous);
		} catch (error) {
			refusal = error;
		}
		expect(refusal).toBeInstanceOf(HttpError);
		expect(refusal).toMatchObject({ status: 400, code: "badRequest", message });
	});
});

describe("what the asker may read besides public packages", () => {
	const grants: Grant[] = [
		{ package: "pkg", permissions: ["read"] },
		{ scope: "@acme", permissions: ["read", "publish"] },
		{ package: "@other/lib", permissions: ["read"] },
	];

	it.each<[string, Principal, SearchQuery["readable"]]>([
		["nothing for anonymous callers", anonymous, { all: false, packages: [], scopes: [] }],
		["everything for the admin", admin, { all: true, packages: [], scopes: [] }],
		[
			"the packages and scopes of a developer's grants",
			tokenHolder("developer", grants),
			{ all: false, packages: ["pkg", "@other/lib"], scopes: ["@acme"] },
		],
		[
			"the packages and scopes of a customer's grants",
			tokenHolder("customer", grants),
			{ all: false, packages: ["pkg", "@other/lib"], scopes: ["@acme"] },
		],
		["nothing for a token without grants", tokenHolder("developer", []), { all: false, packages: [], scopes: [] }],
	])("%s", (_name, principal, readable) => {
		expect(parse("x", principal).readable).toEqual(readable);
	});
});
