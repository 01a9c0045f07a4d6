import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

// Wrangler takes local secrets and var overrides from the `.dev.vars` (or `.env`) beside its config
// and, when there is none, from the process environment. Tests run wrangler on a copy of
// wrangler.jsonc in a directory of their own, with a `.dev.vars` of their own there, so the working
// tree's `.dev.vars` and `.env` are never read and nothing the user set changes what tests see.

export const ROOT = resolve(import.meta.dirname, "..", "..");

type WranglerConfig = { main: string; vars?: Record<string, unknown>; secrets?: { required?: string[] } };

/** wrangler.jsonc, read as JSON: comments and trailing commas dropped, strings left as they are. */
export function readWranglerConfig(): WranglerConfig {
	const text = readFileSync(join(ROOT, "wrangler.jsonc"), "utf8");
	const string = /"(?:[^"\\]|\\.)*"/.source;
	const outsideStrings = (source: string, pattern: string) =>
		source.replace(new RegExp(`(${string})|${pattern}`, "g"), (_match, kept?: string) => kept ?? "");
	const withoutComments = outsideStrings(text, String.raw`//[^\n]*|/\*[\s\S]*?\*/`);
	return JSON.parse(outsideStrings(withoutComments, String.raw`,(?=\s*[}\]])`));
}

/** The names a `.dev.vars` or the environment can set for the Worker: its vars and secrets. */
export function bindingNames(): string[] {
	const config = readWranglerConfig();
	return [...Object.keys(config.vars ?? {}), ...(config.secrets?.required ?? [])];
}

/**
 * Writes the project's wrangler config into `dir` (its `main` made absolute) with a `.dev.vars`
 * holding `devVars`, and answers the config's path.
 */
export function isolatedWranglerConfig(dir: string, devVars: Record<string, string>): string {
	const { $schema: _schema, ...config } = readWranglerConfig() as WranglerConfig & { $schema?: string };
	mkdirSync(dir, { recursive: true });
	const path = join(dir, "wrangler.json");
	writeFileSync(path, JSON.stringify({ ...config, main: join(ROOT, config.main) }, null, "\t"));
	const lines = Object.entries(devVars).map(([name, value]) => `${name}=${JSON.stringify(value)}\n`);
	writeFileSync(join(dir, ".dev.vars"), lines.join(""), { mode: 0o600 });
	return path;
}
