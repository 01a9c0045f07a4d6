import { LIMITS } from "../../schema/limits";
import type { SearchQuery } from "../../schema/search/contract";
import type { Principal } from "../auth/principal";
import { refused } from "../refusals";

// /-/v1/search?text=&size=&from=: the text is split into qualifiers (as the public registry reads
// them) and free words. Words only ever reach FTS5 as quoted prefix strings, so quotes, brackets,
// NEAR, *, - or unbalanced syntax are searched for as text, never parsed as query syntax.

const MAX_SIZE = 250;
const MAX_TERMS = 16;

export function parseSearchQuery(
	query: Record<string, string | string[] | undefined>,
	principal: Principal,
): SearchQuery {
	// Control characters (NUL among them) mean nothing in a search and must never reach FTS5.
	const text = withoutControlCharacters((first(query.text) ?? "").slice(0, LIMITS.searchTextLength));
	const size = integer(first(query.size), 20, "size", 1);
	const from = integer(first(query.from), 0, "from", 0);
	if (from > LIMITS.searchFrom) throw refused.searchTooDeep();
	const parsed: SearchQuery = {
		terms: [],
		text: "",
		keywords: [],
		author: null,
		maintainer: null,
		scope: null,
		deprecated: null,
		unstable: null,
		boostExact: true,
		size: Math.min(size, MAX_SIZE),
		from,
		readable: readable(principal),
	};
	const words: string[] = [];
	for (const token of text.split(/\s+/).filter((t) => t !== "")) {
		const qualifier = /^(keywords|author|maintainer|scope|not|is|boost-exact):(.+)$/i.exec(token);
		const key = qualifier?.[1]?.toLowerCase();
		const value = qualifier?.[2]?.toLowerCase() ?? "";
		if (key === "keywords") parsed.keywords.push(...value.split(",").filter((k) => k !== ""));
		else if (key === "author") parsed.author = value;
		else if (key === "maintainer") parsed.maintainer = value;
		else if (key === "scope") parsed.scope = `@${value.replace(/^@/, "")}`;
		else if (key === "boost-exact") parsed.boostExact = value !== "false";
		else if ((key === "not" || key === "is") && (value === "deprecated" || value === "unstable")) {
			parsed[value] = key === "is";
		} else words.push(token);
	}
	parsed.text = words.join(" ");
	parsed.terms = words.filter((w) => /[\p{L}\p{N}]/u.test(w)).slice(0, MAX_TERMS);
	return parsed;
}

function withoutControlCharacters(text: string): string {
	return [...text].map((c) => (c.charCodeAt(0) < 0x20 || c === "\u007f" ? " " : c)).join("");
}

function first(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value[0] : value;
}

function integer(raw: string | undefined, fallback: number, name: string, min: number): number {
	if (raw === undefined || raw === "") return fallback;
	const value = Number(raw);
	if (!Number.isInteger(value) || value < min) throw refused.notAnIntegerOfAtLeast(name, min);
	return value;
}

/** Restricted packages appear only to those who may read them. */
export function readable(principal: Principal): SearchQuery["readable"] {
	if (principal.kind === "admin") return { all: true, packages: [], scopes: [] };
	if (principal.kind === "anonymous") return { all: false, packages: [], scopes: [] };
	const packages: string[] = [];
	const scopes: string[] = [];
	for (const grant of principal.grants) {
		if ("package" in grant) packages.push(grant.package);
		else scopes.push(grant.scope);
	}
	return { all: false, packages, scopes };
}
