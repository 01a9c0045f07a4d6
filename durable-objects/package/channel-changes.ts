import type { Actor } from "../../schema/audit";
import { ok, type Result } from "../../schema/errors";
import type { ChannelView, VersionRef } from "../../schema/package/contract";
import type { PackageRow } from "../../schema/package/rows";
import { refusals } from "../../schema/refusals";
import type { ChannelState } from "./channels";
import type { Change, PackageRows } from "./package-rows";
import { versionByRef } from "./version-changes";
import { channelView, refName } from "./views";

// The changes to a package's channels (npm dist-tags) and their staged rollouts. A channel under
// rollout does not move until the rollout completes or is reverted. Each runs inside the object's
// write transaction (package-metadata.ts).

/** Publishes a version to a channel: one new history row linked to the channel's current row. */
export function moveChannel(
	rows: PackageRows,
	pkg: PackageRow,
	now: string,
	channel: string,
	ref: VersionRef,
	actor: Actor,
): Result<Change<ChannelView>> {
	const row = versionByRef(rows, ref);
	if (!row) return refusals.versionNotFound(refName(ref));
	if (rows.rollouts.get(channel)) return refusals.rolloutInProgress(channel);
	if (!rows.channels.hasRoomFor([channel])) return refusals.tooManyChannels();
	const state = rows.channels.move(channel, row.version, actor.label, now);
	return ok({
		value: readChannelView(rows, pkg, state),
		action: "channel.move",
		target: channel,
		detail: { version: row.version },
	});
}

/** Moves a channel back one step of its own chain, or to a chosen earlier row of it. */
export function rollbackChannel(
	rows: PackageRows,
	pkg: PackageRow,
	channel: string,
	to: number | undefined,
	now: string,
	actor: Actor,
): Result<Change<ChannelView>> {
	if (rows.rollouts.get(channel)) return refusals.rolloutInProgress(channel);
	const from = rows.channels.get(channel);
	const moved = rows.channels.rollback(channel, to);
	if (!moved.ok) return moved;
	// The history a person reads shows the rollback too, beside the chain (#24.4).
	rows.channels.note(channel, moved.value.version, actor.label, now, "rollback", {
		from: from?.version ?? null,
		to: moved.value.historyId,
	});
	return ok({
		value: readChannelView(rows, pkg, moved.value),
		action: "channel.rollback",
		target: channel,
		detail: { version: moved.value.version, historyId: moved.value.historyId },
	});
}

/** Points `to` at the version `from` points at now. */
export function promoteChannel(
	rows: PackageRows,
	pkg: PackageRow,
	now: string,
	to: string,
	from: string,
	actor: Actor,
): Result<Change<ChannelView>> {
	const source = rows.channels.get(from);
	if (!source) return refusals.channelNotFound(from);
	if (rows.rollouts.get(to)) return refusals.rolloutInProgress(to);
	if (!rows.channels.hasRoomFor([to])) return refusals.tooManyChannels();
	const state = rows.channels.move(to, source.version, actor.label, now, "promote", { from });
	return ok({
		value: readChannelView(rows, pkg, state),
		action: "channel.promote",
		target: to,
		detail: { from, version: source.version },
	});
}

/** `npm dist-tag rm` and DELETE …/channels/{channel}: the pointer and its whole chain go. */
export function removeChannel(rows: PackageRows, channel: string): Result<Change<{ tags: Record<string, string> }>> {
	if (channel === "latest") return refusals.latestIsPermanent();
	if (rows.rollouts.get(channel)) return refusals.rolloutInProgress(channel);
	if (!rows.channels.remove(channel)) return refusals.channelNotFound(channel);
	return ok({ value: { tags: rows.channels.distTags() }, action: "channel.remove", target: channel });
}

/** Starts a staged rollout: `percent` of the channel's clients get `ref`, the rest its target. */
export function startRollout(
	rows: PackageRows,
	pkg: PackageRow,
	now: string,
	channel: string,
	ref: VersionRef,
	percent: number,
	actor: Actor,
): Result<Change<ChannelView>> {
	const control = rows.channels.get(channel);
	if (!control) return refusals.channelNotFound(channel);
	const row = versionByRef(rows, ref);
	if (!row) return refusals.versionNotFound(refName(ref));
	if (rows.rollouts.get(channel)) return refusals.rolloutInProgress(channel);
	if (row.version === control.version) return refusals.alreadyTarget(channel, row.version);
	rows.rollouts.start(channel, row.version, percent, actor.label, now);
	rows.channels.note(channel, row.version, actor.label, now, "rollout.start", { percent });
	return ok({
		value: readChannelView(rows, pkg, control),
		action: "rollout.start",
		target: channel,
		detail: { version: row.version, control: control.version, percent },
	});
}

export function changeRollout(
	rows: PackageRows,
	pkg: PackageRow,
	now: string,
	channel: string,
	percent: number,
	actor: Actor,
): Result<Change<ChannelView>> {
	const rollout = rows.rollouts.get(channel);
	const control = rows.channels.get(channel);
	if (!rollout || !control) return refusals.noRollout(channel);
	rows.rollouts.setPercent(channel, percent);
	rows.channels.note(channel, rollout.version, actor.label, now, "rollout.change", { from: rollout.percent, percent });
	return ok({
		value: readChannelView(rows, pkg, control),
		action: "rollout.change",
		target: channel,
		detail: { version: rollout.version, from: rollout.percent, percent },
	});
}

export function completeRollout(
	rows: PackageRows,
	pkg: PackageRow,
	now: string,
	channel: string,
	actor: Actor,
): Result<Change<ChannelView>> {
	const rollout = rows.rollouts.get(channel);
	if (!rollout) return refusals.noRollout(channel);
	rows.rollouts.end(channel);
	const state = rows.channels.move(channel, rollout.version, actor.label, now, "rollout.complete");
	return ok({
		value: readChannelView(rows, pkg, state),
		action: "rollout.complete",
		target: channel,
		detail: { version: rollout.version, percent: rollout.percent },
	});
}

export function revertRollout(
	rows: PackageRows,
	pkg: PackageRow,
	now: string,
	channel: string,
	actor: Actor,
): Result<Change<ChannelView>> {
	const rollout = rows.rollouts.get(channel);
	const control = rows.channels.get(channel);
	if (!rollout || !control) return refusals.noRollout(channel);
	rows.rollouts.end(channel);
	rows.channels.note(channel, rollout.version, actor.label, now, "rollout.revert", { percent: rollout.percent });
	return ok({
		value: readChannelView(rows, pkg, control),
		action: "rollout.revert",
		target: channel,
		detail: { version: rollout.version, control: control.version, percent: rollout.percent },
	});
}

/** A channel as the contract shows it, read now (inside the change, so it shows the change). */
export function readChannelView(rows: PackageRows, pkg: PackageRow, state: ChannelState): ChannelView {
	return channelView(pkg, state, (version) => rows.versions.get(version), rows.rollouts.get(state.channel));
}
