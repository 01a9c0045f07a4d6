// The npm documents of a package (full and abbreviated packument, one version), built from its rows.
// The packuments are rebuilt inside every write transaction and stored, so that a read is one row.
// dist.tarball needs the registry's public URL, which the object does not know: documents carry a
// per-package random placeholder in its place, which the Worker replaces with the base URL.

export type PackageRow = {
	name: string;
	package_id: string;
	access: "public" | "restricted";
	created_at: string;
	modified_at: string;
	rev: number;
	rev_hash: string;
	base_placeholder: string;
	unpublished_at: string | null;
	require_two_factor: number;
};

export type VersionRow = {
	version: string;
	version_id: string;
	manifest: string;
	integrity: string;
	shasum: string;
	tarball_key: string;
	tarball_size: number;
	files_key: string;
	file_count: number;
	unpacked_size: number;
	entry_path: string | null;
	entry_integrity: string | null;
	readme: string | null;
	readme_filename: string | null;
	deprecated: string | null;
	published_at: string;
	published_by: string;
};

export type Person = { name: string; email?: string };

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

export function revision(pkg: PackageRow): string {
	return `${pkg.rev}-${pkg.rev_hash}`;
}

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
		_npmUser: JSON.parse(row.published_by) as Person,
		maintainers,
		dist: {
			integrity: row.integrity,
			shasum: row.shasum,
			tarball: tarballUrl(pkg, row.version),
			fileCount: row.file_count,
			unpackedSize: row.unpacked_size,
		},
	};
}

export function fullPackument(
	pkg: PackageRow,
	versions: VersionRow[],
	distTags: Record<string, string>,
	maintainers: Person[],
): Record<string, unknown> {
	const latestRow = versions.find((v) => v.version === distTags.latest) ?? versions.at(-1);
	const latest = latestRow ? (JSON.parse(latestRow.manifest) as Record<string, unknown>) : {};
	const top: Record<string, unknown> = {};
	for (const field of LATEST_FIELDS) if (latest[field] !== undefined) top[field] = latest[field];
	return {
		_id: pkg.name,
		_rev: revision(pkg),
		name: pkg.name,
		...top,
		"dist-tags": distTags,
		versions: Object.fromEntries(versions.map((row) => [row.version, versionDocument(pkg, row, maintainers)])),
		time: {
			created: pkg.created_at,
			modified: pkg.modified_at,
			...Object.fromEntries(versions.map((row) => [row.version, row.published_at])),
		},
		maintainers,
		readme: latestRow?.readme ?? "",
		readmeFilename: latestRow?.readme_filename ?? "",
		users: {},
	};
}

export function abbreviatedPackument(
	pkg: PackageRow,
	versions: VersionRow[],
	distTags: Record<string, string>,
	maintainers: Person[],
): Record<string, unknown> {
	const abbreviated = (row: VersionRow) => {
		const doc = versionDocument(pkg, row, maintainers);
		return Object.fromEntries(INSTALL_FIELDS.filter((f) => doc[f] !== undefined).map((f) => [f, doc[f]]));
	};
	return {
		name: pkg.name,
		modified: pkg.modified_at,
		"dist-tags": distTags,
		versions: Object.fromEntries(versions.map((row) => [row.version, abbreviated(row)])),
	};
}
