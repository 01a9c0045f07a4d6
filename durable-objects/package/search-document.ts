import { LIMITS } from "../../schema/limits";
import type { Person } from "../../schema/package/contract";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import type { SearchDocument } from "../../schema/search/contract";

// What a package tells the search index: its latest version's metadata, in npm search's terms.
// Every free-text field is cut to a fixed length first, and nothing here backtracks: the cost of
// building a document is linear in what the index is sent, whatever a manifest holds.

export function searchDocument(
	pkg: PackageRow,
	versions: VersionRow[],
	distTags: Record<string, string>,
	maintainers: Person[],
	weeklyDownloads: number,
): SearchDocument | null {
	const latest = versions.find((v) => v.version === distTags.latest) ?? versions.at(-1);
	if (!latest) return null;
	const manifest = JSON.parse(latest.manifest) as Record<string, unknown>;
	const publisher = JSON.parse(latest.published_by) as Person;
	const slash = pkg.name.indexOf("/");
	return {
		name: pkg.name,
		scope: slash === -1 ? null : pkg.name.slice(0, slash),
		version: latest.version,
		description: cut(manifest.description, LIMITS.searchDescription),
		keywords: keywords(manifest.keywords),
		author: person(manifest.author),
		publisher: withEmail({ username: publisher.name }, publisher.email),
		maintainers: maintainers.map((m) => withEmail({ username: m.name }, m.email)),
		links: links(manifest),
		license: license(manifest.license),
		readme: cut(latest.readme, LIMITS.searchReadme),
		date: pkg.modified_at,
		access: pkg.access,
		deprecated: latest.deprecated,
		weeklyDownloads,
		rev: pkg.rev,
	};
}

function withEmail<T extends object>(value: T, email: string | undefined): T & { email?: string } {
	return email ? { ...value, email } : value;
}

/** A string field cut to `max` characters; anything else is empty. */
function cut(value: unknown, max: number): string {
	return typeof value === "string" ? value.slice(0, max) : "";
}

function keywords(value: unknown): string[] {
	if (!Array.isArray(value)) return [];
	return value
		.filter((k): k is string => typeof k === "string" && k !== "")
		.slice(0, LIMITS.searchKeywords)
		.map((k) => k.slice(0, LIMITS.searchKeyword));
}

/**
 * npm's person field: "Name <email> (url)" or { name, email, url }. The string form is split at
 * the first `<` and `(` with indexOf (never a regular expression), so hostile input such as
 * "a" + " ".repeat(5000) + "<" costs one pass over a string already cut to a fixed length.
 */
export function person(value: unknown): Person | null {
	if (typeof value === "string") {
		const text = value.slice(0, LIMITS.searchPerson);
		const emailStart = text.indexOf("<");
		const urlStart = text.indexOf("(");
		const nameEnd = Math.min(...[emailStart, urlStart, text.length].filter((i) => i !== -1));
		const name = text.slice(0, nameEnd).trim();
		const emailEnd = emailStart === -1 ? -1 : text.indexOf(">", emailStart + 1);
		const email = emailEnd === -1 ? "" : text.slice(emailStart + 1, emailEnd).trim();
		return name === "" ? null : withEmail({ name }, email || undefined);
	}
	if (typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string") {
		const { name, email } = value as { name: string; email?: unknown };
		const trimmed = name.slice(0, LIMITS.searchPerson).trim();
		if (trimmed === "") return null;
		return withEmail({ name: trimmed }, typeof email === "string" ? email.slice(0, LIMITS.searchPerson) : undefined);
	}
	return null;
}

function url(value: unknown): string | null {
	const raw = typeof value === "string" ? value : (value as { url?: unknown } | null)?.url;
	if (typeof raw !== "string" || raw === "") return null;
	const link = raw.slice(0, LIMITS.searchLink);
	const start = link.startsWith("git+") ? 4 : 0;
	const end = link.endsWith(".git") ? link.length - 4 : link.length;
	return link.slice(start, end);
}

function links(manifest: Record<string, unknown>): Record<string, string> {
	const result: Record<string, string> = {};
	for (const [key, value] of [
		["homepage", manifest.homepage],
		["repository", manifest.repository],
		["bugs", manifest.bugs],
	] as const) {
		const link = url(value);
		if (link) result[key] = link;
	}
	return result;
}

function license(value: unknown): string | null {
	if (typeof value === "string") return value.slice(0, LIMITS.searchPerson);
	const type = (value as { type?: unknown } | null)?.type;
	return typeof type === "string" ? type.slice(0, LIMITS.searchPerson) : null;
}
