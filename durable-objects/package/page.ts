import { ok, type Result } from "../../schema/errors";
import {
	type DayCount,
	PAGE_DOWNLOAD_DAYS,
	PAGE_HISTORY_ENTRIES,
	type PackagePage,
	type PageChannel,
	type Person,
	type RolloutEventDetail,
} from "../../schema/package/contract";
import type { HistoryRow, PackageRow, RolloutRow, VersionRow } from "../../schema/package/rows";
import { refusals } from "../../schema/refusals";
import type { PackageRows } from "./package-rows";
import { keywords, license, links } from "./search-document";

// What a package page shows (worker/web/package-page.ts), built from the object's rows in one
// read: the versions, tags, maintainers, the chosen version's manifest and rendered README, the
// channels with their recent history, and the download figures the chart is drawn from.

export type PageRows = {
	pkg: PackageRow;
	versions: VersionRow[];
	selected: VersionRow;
	readmeHtml: string | null;
	distTags: Record<string, string>;
	maintainers: Person[];
	channels: {
		channel: string;
		historyId: number;
		version: string;
		history: HistoryRow[];
		targets: Set<number>;
		rollout: RolloutRow | null;
	}[];
	downloads: DayCount[];
};

/** The page of `spec` (a version or a tag; null: latest), read from the package's rows. */
export function pageOf(rows: PackageRows, pkg: PackageRow, spec: string | null): Result<PackagePage> {
	const distTags = rows.channels.distTags();
	const versions = rows.versions.all();
	const selected =
		spec === null
			? (versions.find((v) => v.version === distTags.latest) ?? versions.at(-1))
			: (rows.versions.get(spec) ?? rows.versions.get(distTags[spec] ?? ""));
	if (!selected) return refusals.versionNotFound(spec ?? "latest");
	const channels = rows.channels.list().map((state) => ({
		channel: state.channel,
		historyId: state.historyId,
		version: state.version,
		history: rows.channels.history(state.channel) ?? [],
		targets: rows.channels.rollbackTargets(state.channel),
		rollout: rows.rollouts.get(state.channel),
	}));
	return ok(
		packagePage({
			pkg,
			versions,
			selected,
			readmeHtml: rows.readmes.get(selected.version),
			distTags,
			maintainers: rows.versions.maintainers(),
			channels,
			downloads: rows.downloads.lastDays(PAGE_DOWNLOAD_DAYS),
		}),
	);
}

export function packagePage(rows: PageRows): PackagePage {
	const { pkg, selected } = rows;
	const manifest = JSON.parse(selected.manifest) as Record<string, unknown>;
	const tagsOf = new Map<string, string[]>();
	for (const [tag, version] of Object.entries(rows.distTags))
		tagsOf.set(version, [...(tagsOf.get(version) ?? []), tag]);
	return {
		packageId: pkg.package_id,
		name: pkg.name,
		createdAt: pkg.created_at,
		modifiedAt: pkg.modified_at,
		distTags: rows.distTags,
		versions: [...rows.versions].reverse().map((row) => ({
			version: row.version,
			publishedAt: row.published_at,
			deprecated: row.deprecated,
			tags: tagsOf.get(row.version) ?? [],
		})),
		maintainers: rows.maintainers,
		selected: {
			version: selected.version,
			publishedAt: selected.published_at,
			publishedBy: JSON.parse(selected.published_by) as Person,
			deprecated: selected.deprecated,
			description: typeof manifest.description === "string" ? manifest.description : "",
			keywords: keywords(manifest.keywords),
			license: license(manifest.license),
			links: links(manifest),
			dependencies: dependencyMap(manifest.dependencies),
			peerDependencies: dependencyMap(manifest.peerDependencies),
			optionalDependencies: dependencyMap(manifest.optionalDependencies),
			devDependencies: dependencyMap(manifest.devDependencies),
			fileCount: selected.file_count,
			unpackedSize: selected.unpacked_size,
			integrity: selected.integrity,
			entryPath: selected.entry_path,
			readmeHtml: rows.readmeHtml,
			readme: rows.readmeHtml === null ? selected.readme : null,
		},
		channels: rows.channels.map(
			(channel): PageChannel => ({
				channel: channel.channel,
				version: channel.version,
				historyId: channel.historyId,
				history: channel.history.slice(0, PAGE_HISTORY_ENTRIES).map((row) => ({
					id: row.id,
					version: row.version,
					at: row.at,
					by: row.by,
					current: row.id === channel.historyId,
					rollbackTarget: channel.targets.has(row.id),
					event: row.event,
					detail: row.detail === null ? null : (JSON.parse(row.detail) as RolloutEventDetail),
				})),
				rollout: channel.rollout && {
					version: channel.rollout.version,
					percent: channel.rollout.percent,
					startedAt: channel.rollout.started_at,
					startedBy: channel.rollout.started_by,
				},
			}),
		),
		downloads: rows.downloads,
	};
}

/** `{ name: range }` with string ranges only: a manifest is whatever its publisher wrote. */
function dependencyMap(value: unknown): Record<string, string> {
	if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
	return Object.fromEntries(
		Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
	);
}
