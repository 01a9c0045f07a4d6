import type { Person } from "../../schema/package/contract";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import { revision } from "./package-record";

// The npm documents of a package (full and abbreviated packument, one version), built from its
// rows: pure functions. dist.tarball needs the registry's public URL, which the object does not
// know: documents carry a per-package random placeholder in its place, which the Worker replaces.

/** Fields of a version that installers need: what the abbreviated packument keeps. */
const INSTALL_FIELDS = [
	"name",
	"version",
	"deprecated",
	"dependencies",
	"optionalDependencies",
	"devDependencies",
	"peerDependencies",
	"peerDependenciesMeta",
	"bundleDependencies",
	"bundledDependencies",
	"acceptDependencies",
	"bin",
	"directories",
	"engines",
	"os",
	"cpu",
	"libc",
	"funding",
	"license",
	"_hasShrinkwrap",
	"hasInstallScript",
	"dist",
] as const;

/** Fields of the latest version that npm repeats at the top of the full packument. */
const LATEST_FIELDS = ["description", "author", "license", "homepage", "keywords", "repository", "bugs"] as const;

function tarballUrl(pkg: PackageRow, version: string): string {
	const basename = pkg.name.startsWith("@") ? pkg.name.slice(pkg.name.indexOf("/") + 1) : pkg.name;
	return `${pkg.base_placeholder}/${pkg.name}/-/${basename}-${version}.tgz`;
}

export function versionDocument(pkg: PackageRow, row: VersionRow, maintainers: Person[]): Record<string, unknown> {
	const manifest = JSON.parse(row.manifest) as Record<string, unknown>;
	return {
		...manifest,
		name: pkg.name,
		version: row.version,
		_id: `${pkg.name}@${row.version}`,
		...(row.deprecated ? { deprecated: row.deprecated } : {}),
		_npmUser: withEmail(JSON.parse(row.published_by) as Person),
		// Given as people (`asPeople`), or as the pieces' marker (packument-pieces.ts).
		maintainers,
		dist: {
			integrity: row.integrity,
			shasum: row.shasum,
			tarball: tarballUrl(pkg, row.version),
			fileCount: row.file_count,
			unpackedSize: row.unpacked_size,
			...(row.signatures ? { signatures: JSON.parse(row.signatures) as unknown } : {}),
		},
	};
}

export function fullPackument(
	pkg: PackageRow,
	versions: VersionRow[],
	distTags: Record<string, string>,
	maintainers: Person[],
): Record<string, unknown> {
	const latest = versions.find((v) => v.version === distTags.latest) ?? versions.at(-1) ?? null;
	const people = asPeople(maintainers);
	const documents = Object.fromEntries(versions.map((row) => [row.version, versionDocument(pkg, row, people)]));
	return fullPackumentFrame(pkg, versions, latest, distTags, maintainers, documents);
}

/**
 * The full packument around its `versions`, which the caller gives (the documents, or a marker the
 * stored pieces replace): only the publish times of the versions are needed here.
 */
export function fullPackumentFrame(
	pkg: PackageRow,
	times: Pick<VersionRow, "version" | "published_at">[],
	latestRow: VersionRow | null,
	distTags: Record<string, string>,
	maintainers: Person[],
	versions: unknown,
): Record<string, unknown> {
	const latest = latestRow ? (JSON.parse(latestRow.manifest) as Record<string, unknown>) : {};
	const top: Record<string, unknown> = {};
	for (const field of LATEST_FIELDS) if (latest[field] !== undefined) top[field] = latest[field];
	return {
		_id: pkg.name,
		_rev: revision(pkg),
		name: pkg.name,
		...top,
		"dist-tags": distTags,
		versions,
		time: {
			created: pkg.created_at,
			modified: pkg.modified_at,
			...Object.fromEntries(times.map((row) => [row.version, row.published_at])),
		},
		maintainers: maintainers.map(withEmail),
		readme: latestRow?.readme ?? "",
		readmeFilename: latestRow?.readme_filename ?? "",
		users: {},
	};
}

/** One version as the abbreviated packument shows it: the fields installers need. */
export function abbreviatedVersion(pkg: PackageRow, row: VersionRow): Record<string, unknown> {
	const doc = versionDocument(pkg, row, []);
	return Object.fromEntries(INSTALL_FIELDS.filter((f) => doc[f] !== undefined).map((f) => [f, doc[f]]));
}

export function abbreviatedPackument(
	pkg: PackageRow,
	versions: VersionRow[],
	distTags: Record<string, string>,
): Record<string, unknown> {
	return abbreviatedPackumentFrame(
		pkg,
		distTags,
		Object.fromEntries(versions.map((row) => [row.version, abbreviatedVersion(pkg, row)])),
	);
}

/** The abbreviated packument around its `versions` (the documents, or a marker). */
export function abbreviatedPackumentFrame(
	pkg: PackageRow,
	distTags: Record<string, string>,
	versions: unknown,
): Record<string, unknown> {
	return { name: pkg.name, modified: pkg.modified_at, "dist-tags": distTags, versions };
}

/**
 * npm prints people as `name <email>`: a publisher that is a token, not a user, has no email, and
 * `npm owner ls` would print `ci <undefined>`. An empty one prints `ci <>` (#24.6).
 */
function withEmail(person: Person): Person & { email: string } {
	return { ...person, email: person.email ?? "" };
}

/** The maintainers as a packument lists them: each with an email, empty for a token publisher. */
export function asPeople(maintainers: Person[]): Person[] {
	return maintainers.map(withEmail);
}
