import type { Person } from "../../schema/package/contract";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import type { SearchDocument } from "../../schema/search/contract";

// What a package tells the search index: its latest version's metadata, in npm search's terms.

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
		description: typeof manifest.description === "string" ? manifest.description : "",
		keywords: Array.isArray(manifest.keywords) ? manifest.keywords.filter((k) => typeof k === "string") : [],
		author: person(manifest.author),
		publisher: withEmail({ username: publisher.name }, publisher.email),
		maintainers: maintainers.map((m) => withEmail({ username: m.name }, m.email)),
		links: links(manifest),
		license: license(manifest.license),
		readme: latest.readme ?? "",
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

/** npm's person field: "Name <email> (url)" or { name, email, url }. */
function person(value: unknown): Person | null {
	if (typeof value === "string") {
		const match = /^([^<(]*?)\s*(?:<([^>]*)>)?\s*(?:\(([^)]*)\))?$/.exec(value.trim());
		const name = match?.[1]?.trim() ?? value.trim();
		return name === "" ? null : withEmail({ name }, match?.[2]?.trim() || undefined);
	}
	if (typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string") {
		const { name, email } = value as { name: string; email?: unknown };
		return withEmail({ name }, typeof email === "string" ? email : undefined);
	}
	return null;
}

function url(value: unknown): string | null {
	const raw = typeof value === "string" ? value : (value as { url?: unknown } | null)?.url;
	if (typeof raw !== "string" || raw === "") return null;
	return raw.replace(/^git\+/, "").replace(/\.git$/, "");
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
	if (typeof value === "string") return value;
	const type = (value as { type?: unknown } | null)?.type;
	return typeof type === "string" ? type : null;
}
