import type { Actor } from "../../schema/audit";
import type {
	ChannelView,
	HistoryEntry,
	Person,
	RolloutEventDetail,
	VersionRef,
	VersionView,
} from "../../schema/package/contract";
import type { HistoryRow, PackageRow, RolloutRow, VersionRow } from "../../schema/package/rows";
import type { ChannelState } from "./channels";

// How the package object's rows are shown through its contract (channels, versions, history):
// pure functions of the rows the caller read.

export function channelView(
	pkg: PackageRow,
	state: ChannelState,
	versionOf: (version: string) => VersionRow | null,
	rollout: RolloutRow | null,
): ChannelView {
	const row = versionOf(state.version);
	const candidate = rollout ? versionOf(rollout.version) : null;
	return {
		packageId: pkg.package_id,
		channel: state.channel,
		versionId: row?.version_id ?? "",
		version: state.version,
		publishedAt: state.at,
		historyId: state.historyId,
		entryPath: row?.entry_path ?? null,
		entryIntegrity: row?.entry_integrity ?? null,
		rollout:
			rollout && candidate
				? {
						version: rollout.version,
						versionId: candidate.version_id,
						percent: rollout.percent,
						salt: rollout.salt,
						startedAt: rollout.started_at,
						startedBy: rollout.started_by,
						entryPath: candidate.entry_path,
						entryIntegrity: candidate.entry_integrity,
					}
				: null,
	};
}

export function versionView(pkg: PackageRow, row: VersionRow): VersionView {
	return {
		packageId: pkg.package_id,
		versionId: row.version_id,
		version: row.version,
		publishedAt: row.published_at,
		entryPath: row.entry_path,
		entryIntegrity: row.entry_integrity,
		deprecated: row.deprecated,
	};
}

/** A channel's history rows, each with the id of the version it names ("" once that is gone). */
export function historyEntries(
	rows: (HistoryRow & { current: boolean })[],
	versionIds: Map<string, string>,
): HistoryEntry[] {
	return rows.map((row) => ({
		id: row.id,
		channel: row.channel,
		version: row.version,
		versionId: versionIds.get(row.version) ?? "",
		previousHistoryId: row.previous_history_id,
		at: row.at,
		by: row.by,
		current: row.current,
		event: row.event,
		detail: row.detail === null ? null : (JSON.parse(row.detail) as RolloutEventDetail),
	}));
}

/** A version reference as a refusal names it. */
export function refName(ref: VersionRef): string {
	return "versionId" in ref ? ref.versionId : ref.version;
}

/** The actor as npm's `_npmUser` and `maintainers` show people. */
export function person(actor: Actor): Person {
	const trusted = actor.trustedPublisher;
	return {
		name: actor.name,
		...(actor.email ? { email: actor.email } : {}),
		...(trusted ? { trustedPublisher: { id: trusted.provider, oidcConfigId: trusted.configId, ...trusted } } : {}),
	};
}
