import { LIMITS } from "../../schema/limits";
import type { DayCount, Person } from "../../schema/package/contract";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import type { DependencyEdge, DependencyKind, SearchDocument } from "../../schema/search/contract";

// What a package tells the search index: its latest version's metadata, in npm search's terms.
// Every free-text field is cut to a fixed length first, and nothing here backtracks: the cost of
// building a document is linear in what the index is sent, whatever a manifest holds.

export function searchDocument(
	pkg: PackageRow,
	versions: VersionRow[],
	distTags: Record<string, string>,
	maintainers: Person[],
	weeklyDownloads: number,
	dailyDownloads: DayCount[] = [],
): SearchDocument | null {
	const summary: VersionSummary = {
		latest: versions.find((v) => v.version === distTags.latest) ?? versions.at(-1) ?? null,
		count: versions.length,
		lastPublishedAt:
			versions
				.map((v) => v.published_at)
				.sort()
				.at(-1) ?? "",
	};
	return searchDocumentOf(pkg, summary, maintainers, weeklyDownloads, dailyDownloads);
}

/** What the document needs of the versions: the object reads it without reading every version. */
export type VersionSummary = {
	/** The version `latest` names, or else the last published. */
	latest: VersionRow | null;
	count: number;
	lastPublishedAt: string;
};

export function searchDocumentOf(
	pkg: PackageRow,
	versions: VersionSummary,
	maintainers: Person[],
	weeklyDownloads: number,
	dailyDownloads: DayCount[] = [],
): SearchDocument | null {
	const { latest } = versions;
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
		dailyDownloads: dailyDownloads.filter((d) => d.downloads > 0),
		versionCount: versions.count,
		publishedAt: versions.lastPublishedAt,
		dependencies: dependencies(manifest),
		rev: pkg.rev,
	};
}

const DEPENDENCY_KINDS: DependencyKind[] = ["dependencies", "peerDependencies", "optionalDependencies"];
/** Edges sent per package (far above what real packages list), and a range's length. */
const DEPENDENCIES_SENT = 1_000;
const RANGE_LENGTH = 256;

/**
 * What the latest version depends on, for the index's dependents: one edge per name, the first
 * kind that lists it (a name in both dependencies and optionalDependencies is a dependency).
 * Dev dependencies are left out, as npm's dependents leave them out. Entries that are not
 * name → string are skipped.
 */
export function dependencies(manifest: Record<string, unknown>): DependencyEdge[] {
	const edges = new Map<string, DependencyEdge>();
	for (const kind of DEPENDENCY_KINDS) {
		const listed = manifest[kind];
		if (typeof listed !== "object" || listed === null || Array.isArray(listed)) continue;
		for (const [name, range] of Object.entries(listed)) {
			if (edges.size >= DEPENDENCIES_SENT) return [...edges.values()];
			if (typeof range !== "string" || name === "" || name.length > 214 || edges.has(name)) continue;
			edges.set(name, { name, kind, range: range.slice(0, RANGE_LENGTH) });
		}
	}
	return [...edges.values()];
}

function withEmail<T extends object>(value: T, email: string | undefined): T & { email?: string } {
	return email ? { ...value, email } : value;
}

/** A string field cut to `max` characters; anything else is empty. */
function cut(value: unknown, max: number): string {
	return typeof value === "string" ? value.slice(0, max) : "";
}

export function keywords(value: unknown): string[] {
	if (!Array.isArray(value)) return [];
	return value
		.filter((k): k is string => typeof k === "string" && k !== "")
		.slice(0, LIMITS.searchKeywords)
		.map((k) => k.slice(0, LIMITS.searchKeyword));
}

/**
 * npm's person field: "Name <email> (url)" or { name, email, url }. The string form is read in
 * one left-to-right pass with indexOf (never a backtracking regular expression), over a string
 * already cut to a fixed length, so hostile input such as "a" + " ".repeat(5000) + "<" costs no
 * more than any other. A string that is not of that shape is a name as it stands.
 */
export function person(value: unknown): Person | null {
	if (typeof value === "string") return personOf(value.slice(0, LIMITS.searchPerson).trim());
	if (typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string") {
		const { name, email } = value as { name: string; email?: unknown };
		const trimmed = name.slice(0, LIMITS.searchPerson).trim();
		if (trimmed === "") return null;
		return withEmail({ name: trimmed }, typeof email === "string" ? email.slice(0, LIMITS.searchPerson) : undefined);
	}
	return null;
}

function personOf(text: string): Person | null {
	const emailStart = text.indexOf("<");
	const urlStart = text.indexOf("(");
	const nameEnd = Math.min(...[emailStart, urlStart, text.length].filter((i) => i !== -1));
	let rest = text.slice(nameEnd).trimStart();
	let email = "";
	if (rest.startsWith("<")) {
		const close = rest.indexOf(">");
		if (close === -1) return asName(text);
		email = rest.slice(1, close).trim();
		rest = rest.slice(close + 1).trimStart();
	}
	if (rest.startsWith("(")) {
		const close = rest.indexOf(")");
		if (close === -1) return asName(text);
		rest = rest.slice(close + 1).trimStart();
	}
	if (rest !== "") return asName(text);
	const name = text.slice(0, nameEnd).trim();
	return name === "" ? null : withEmail({ name }, email || undefined);
}

function asName(text: string): Person | null {
	return text === "" ? null : { name: text };
}

function url(value: unknown): string | null {
	const raw = typeof value === "string" ? value : (value as { url?: unknown } | null)?.url;
	if (typeof raw !== "string" || raw === "") return null;
	const link = raw.slice(0, LIMITS.searchLink);
	const start = link.startsWith("git+") ? 4 : 0;
	const end = link.endsWith(".git") ? link.length - 4 : link.length;
	return link.slice(start, end);
}

export function links(manifest: Record<string, unknown>): Record<string, string> {
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

export function license(value: unknown): string | null {
	if (typeof value === "string") return value.slice(0, LIMITS.searchPerson);
	const type = (value as { type?: unknown } | null)?.type;
	return typeof type === "string" ? type.slice(0, LIMITS.searchPerson) : null;
}
