import { unwrap } from "../errors";
import type { PackageStub } from "../guards";
import { refused } from "../refusals";

// A write to a channel that does not exist creates it, and a channel protects its versions from
// unpublish: so `POST …/channels/stabel` must not quietly make a second `stable`. Creating a
// channel whose name is a slip away from an existing one needs `{"create": true}`. Only writes
// through the channel API and the page ask; npm dist-tags (npm has no such flag), the loader and
// lookups are untouched. The check reads the channels before the move (one more object call); two
// racing creations of near names are no typo either of them made.

/** Refuses creating `channel` without `create` when an existing channel's name is a slip away. */
export async function assertNoChannelTypo(stub: PackageStub, channel: string, create: boolean | undefined) {
	if (create === true) return;
	const { tags } = unwrap(await stub.distTags());
	if (Object.hasOwn(tags, channel)) return;
	const near = nearestChannel(channel, Object.keys(tags));
	if (near !== null) throw refused.channelNameTypo(channel, near);
}

/** The existing channel `name` most likely mistypes, or null if it looks deliberate. */
export function nearestChannel(name: string, existing: string[]): string | null {
	let best: { channel: string; distance: number } | null = null;
	for (const channel of existing) {
		if (!looksLikeSlip(name, channel)) continue;
		const distance = editDistance(name.toLowerCase(), channel.toLowerCase());
		if (best === null || distance < best.distance) best = { channel, distance };
	}
	return best?.channel ?? null;
}

/**
 * One slip (a letter missed, added, changed or two swapped; case alone) for short names, two for
 * names of 8 or more. Not a slip: names that differ only in their digits (`v1`/`v2`, `beta1`/
 * `beta2`) or where one extends the other (`beta`/`beta-2`), which are how channels are numbered.
 */
function looksLikeSlip(name: string, channel: string): boolean {
	const a = name.toLowerCase();
	const b = channel.toLowerCase();
	if (a === b) return name !== channel;
	if (a.startsWith(b) || b.startsWith(a)) return false;
	if (a.replace(/\d+/g, "#") === b.replace(/\d+/g, "#")) return false;
	const allowed = Math.min(a.length, b.length) >= 8 ? 2 : 1;
	if (Math.min(a.length, b.length) < 3) return false;
	return editDistance(a, b) <= allowed;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
	const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
		Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
	);
	const at = (i: number, j: number) => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
	for (let i = 1; i <= a.length; i++) {
		for (let j = 1; j <= b.length; j++) {
			const cost = a[i - 1] === b[j - 1] ? 0 : 1;
			let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
			if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, at(i - 2, j - 2) + 1);
			const row = rows[i];
			if (row) row[j] = d;
		}
	}
	return at(a.length, b.length);
}
