import { describe, expect, it } from "vitest";
import architecture from "../ARCHITECTURE.md?raw";
import { cachePolicy } from "../worker/cache-control";
import { policyOf } from "../worker/route-policy";
import { router } from "../worker/router";

// ARCHITECTURE.md's routing table is checked against the router, so it cannot drift: every route
// the router serves has exactly one row (method, path, module and export of its handler, and the
// auth and cache its handler declares), and every row is a route. On a mismatch the failure shows
// the rows the router implies. The cache column is a name from worker/cache-control.ts, then
// optionally `: the reason`.

const modules = import.meta.glob("../worker/**/*.ts", { eager: true }) as Record<string, Record<string, unknown>>;

type Row = { method: string; path: string; handler: string; auth: string; cache: string };
type ItttyRoute = [method: string, regex: RegExp, handlers: unknown[], path: string];

/** `/-/package/@:scope/:pkg/dist-tags/:tag` → `/-/package/{name}/dist-tags/{tag}` */
function documentedPath(path: string): string {
	return path
		.replace(/@:scope\/:pkg/g, "{name}")
		.replace(/:pkg\b/g, "{name}")
		.replace(/:(\w+)\+?/g, "{$1}");
}

function handlerNames(): Map<unknown, string> {
	const names = new Map<unknown, string>();
	for (const [file, exports] of Object.entries(modules)) {
		const module = file.replace("../worker/", "").replace(/\.ts$/, "");
		for (const [name, value] of Object.entries(exports)) {
			if (typeof value === "function" && !names.has(value)) names.set(value, `${module} \`${name}\``);
		}
	}
	return names;
}

function routerRows(): Row[] {
	const names = handlerNames();
	const rows = new Map<string, Row>();
	for (const [method, , handlers, path] of (router as unknown as { routes: ItttyRoute[] }).routes) {
		const handler = handlers.map((h) => names.get(h) ?? "(anonymous)").join(", ");
		const policy = handlers.length === 1 ? policyOf(handlers[0]) : undefined;
		// itty-router keeps the home page's path as "".
		const row = {
			method,
			path: documentedPath(path) || "/",
			handler,
			auth: policy?.auth ?? "(undeclared)",
			cache: policy?.cache ?? "(undeclared)",
		};
		rows.set(`${row.method} ${row.path}`, row);
	}
	return [...rows.values()];
}

function documentedRows(): Row[] {
	const section = architecture.slice(architecture.indexOf("## Routing table"));
	return section
		.split("\n")
		.map((line) => /^\|\s*([A-Z]+)\s*\|\s*`([^`]+)`\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|\s*([^|]+?)\s*\|/.exec(line))
		.filter((match) => match !== null)
		.map(([, method = "", path = "", handler = "", auth = "", cache = ""]) => ({
			method,
			path,
			handler,
			auth,
			// The policy's name; the reason after it is for readers.
			cache: cache.split(":")[0]?.trim() ?? "",
		}));
}

const key = (row: Row) => `${row.method} ${row.path} → ${row.handler} | auth ${row.auth} | cache ${row.cache}`;

describe("ARCHITECTURE.md", () => {
	it("has one routing-table row per route the router serves, naming its handler, auth and cache policy (#23.1)", () => {
		const documented = documentedRows().map(key).sort();
		const served = routerRows().map(key).sort();
		const missing = served.filter((row) => !documented.includes(row));
		const stale = documented.filter((row) => !served.includes(row));
		const table = routerRows()
			.map((row) => `| ${row.method} | \`${row.path}\` | ${row.handler} | ${row.auth} | ${row.cache} |`)
			.join("\n");
		expect({ missing, stale }, `the router implies these rows:\n${table}`).toEqual({ missing: [], stale: [] });
	});

	it("declares every route's auth and cache policy on its handler, from the named policies (#23.1)", () => {
		const undeclared = routerRows().filter((row) => row.auth === "(undeclared)");
		expect(undeclared.map(key)).toEqual([]);
		const unknown = routerRows().filter((row) => !(row.cache in cachePolicy));
		expect(unknown.map(key)).toEqual([]);
	});

	it("writes the routing table as one table with a header row", () => {
		const section = architecture.slice(architecture.indexOf("## Routing table")).split("\n## ")[0] ?? "";
		const tableLines = section.split("\n").filter((line) => line.startsWith("|"));
		expect(tableLines[0]).toMatch(/^\| method\s*\| path\s*\| handler\s*\| auth\s*\| cache/);
		expect(tableLines[1]).toMatch(/^\|\s*-+\s*\|/);
		// One table: its rows are contiguous (a blank line would start a second, headerless table).
		const first = section.indexOf(tableLines[0] ?? "");
		const last = section.lastIndexOf(tableLines.at(-1) ?? "");
		expect(section.slice(first, last).includes("\n\n")).toBe(false);
	});
});
