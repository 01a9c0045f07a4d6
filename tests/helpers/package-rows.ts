import type { PackageRow, VersionRow } from "../../schema/package/rows";

// Rows of a package object's tables, built by hand for the pure document builders
// (durable-objects/package/packument.ts, search-document.ts).

export const PLACEHOLDER = "registry-base-0123456789abcdef";

export function packageRow(overrides: Partial<PackageRow> = {}): PackageRow {
	return {
		name: "widget",
		package_id: "00000000-0000-4000-8000-000000000001",
		access: "public",
		created_at: "2026-01-01T00:00:00.000Z",
		modified_at: "2026-01-05T00:00:00.000Z",
		rev: 7,
		rev_hash: "cafe",
		base_placeholder: PLACEHOLDER,
		unpublished_at: null,
		require_two_factor: 0,
		...overrides,
	};
}

/** A version row; `manifest` is what the client sent. */
export function versionRow(
	version: string,
	manifest: Record<string, unknown> = {},
	overrides: Partial<VersionRow> = {},
): VersionRow {
	return {
		version,
		version_id: `id-${version}`,
		manifest: JSON.stringify(manifest),
		integrity: `sha512-${version}`,
		shasum: `sha1-${version}`,
		tarball_key: `tarballs/widget/${version}/a.tgz`,
		tarball_size: 100,
		files_key: `files/widget/${version}/a.bin`,
		file_count: 2,
		unpacked_size: 300,
		entry_path: "index.js",
		entry_integrity: null,
		readme: null,
		readme_filename: null,
		deprecated: null,
		published_at: "2026-01-02T00:00:00.000Z",
		published_by: JSON.stringify({ name: "alice", email: "alice@example.com" }),
		signatures: null,
		...overrides,
	};
}
