import { describe, expect, it } from "vitest";
import readme from "../README.md?raw";
import { DEFAULTS, parseConfig } from "../schema/config";
import wranglerText from "../wrangler.jsonc?raw";

// README's configuration table is held to the code (#23.3): one table, every wrangler.jsonc var
// in it and nothing else, each with the default wrangler.jsonc sets, which is the default the code
// falls back to (`DEFAULTS` in schema/config.ts, or the parser's own).

/** wrangler.jsonc's `vars`: its comments dropped (no value in it holds `//`), trailing commas too. */
function wranglerVars(): Record<string, string> {
	const json = wranglerText
		.split("\n")
		.filter((line) => !line.trim().startsWith("//"))
		.join("\n")
		.replace(/,(\s*[}\]])/g, "$1");
	return (JSON.parse(json) as { vars: Record<string, string> }).vars;
}

/** Every table in README whose header's first column is `var`, as { var → default } each. */
function configurationTables(): Map<string, string>[] {
	const tables: Map<string, string>[] = [];
	let current: Map<string, string> | null = null;
	for (const line of readme.split("\n")) {
		if (/^\|\s*var\s*\|/.test(line)) {
			current = new Map();
			tables.push(current);
			continue;
		}
		if (!line.startsWith("|")) {
			current = null;
			continue;
		}
		const row = /^\|\s*`([A-Z0-9_]+)`\s*\|\s*`([^`]*)`\s*\|/.exec(line);
		if (current && row) current.set(row[1] ?? "", row[2] === '""' ? "" : (row[2] ?? ""));
	}
	return tables;
}

/** `MAX_BODY_SIZE` → `maxBodySize` */
const camel = (name: string) => name.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

describe("README's configuration table (#23.3)", () => {
	it("is one table", () => {
		expect(configurationTables()).toHaveLength(1);
	});

	it("documents every wrangler.jsonc var with the value wrangler.jsonc sets, and no other var", () => {
		const [table = new Map<string, string>()] = configurationTables();
		expect(Object.fromEntries(table)).toEqual(wranglerVars());
	});

	it("gives every DEFAULTS entry as the default of its var", () => {
		const [table = new Map<string, string>()] = configurationTables();
		const documented = Object.fromEntries(
			Object.keys(DEFAULTS).map((key) => [key, table.get([...table.keys()].find((v) => camel(v) === key) ?? "")]),
		);
		const defaults = Object.fromEntries(Object.entries(DEFAULTS).map(([key, value]) => [key, String(value)]));
		expect(documented).toEqual(defaults);
	});

	it("documents defaults the code really falls back to: wrangler.jsonc's vars change nothing", () => {
		expect(parseConfig(wranglerVars())).toEqual(parseConfig({}));
	});
});
