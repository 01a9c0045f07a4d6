import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { applyMigrations } from "../durable-objects/migrations";
import { Channels } from "../durable-objects/package/channels";
import { packageMetadataMigrations } from "../schema/package/migrations";
import { uniqueName } from "./helpers/registry";

// The channel chains of durable-objects/package/channels.ts against a real SqlStorage with the
// package schema (migrated here: a package object creates its tables on its first write only),
// without HTTP or the facade.

const AT = "2026-01-01T00:00:00.000Z";

/** Runs `body` on the Channels of a fresh package object. */
async function withChannels<T>(body: (channels: Channels) => T): Promise<T> {
	const stub = env.PACKAGES.get(env.PACKAGES.idFromName(uniqueName("chains")));
	return runInDurableObject(stub, (_instance, state) => {
		applyMigrations(state.storage, packageMetadataMigrations);
		return body(new Channels(state.storage.sql));
	});
}

/** A step of a scenario: move a channel to a version, or roll it back one step. */
type Step = [channel: string, version: string] | [channel: string, "rollback"];

function play(channels: Channels, steps: Step[]): void {
	for (const [channel, action] of steps) {
		if (action === "rollback") {
			const rolled = channels.rollback(channel);
			if (!rolled.ok) throw new Error(rolled.message);
		} else {
			channels.move(channel, action, "tester", AT);
		}
	}
}

/** A channel as the tests compare it: its history newest first (`*` marks the pointer), and where rollback leads. */
type Seen = { history: string[]; rollbacks: string[] } | null;

function inspect(channels: Channels, channel: string): Seen {
	const history = channels.history(channel);
	if (history === null) return null;
	const rollbacks: string[] = [];
	for (let rolled = channels.rollback(channel); rolled.ok; rolled = channels.rollback(channel)) {
		rollbacks.push(rolled.value.version);
	}
	return { history: history.map((row) => `${row.version}${row.current ? "*" : ""}`), rollbacks };
}

describe("moving a channel", () => {
	it("appends one row per move, linked to the row it replaced; the first row links to nothing", async () => {
		const { rows, states } = await withChannels((channels) => {
			const states = [
				channels.move("stable", "1.0.0", "alice", AT),
				channels.move("stable", "2.0.0", "bob", AT),
				channels.move("stable", "2.0.0", "bob", AT),
			];
			return { rows: channels.history("stable") ?? [], states };
		});
		expect(rows.map((r) => [r.version, r.by, r.current])).toEqual([
			["2.0.0", "bob", true],
			["2.0.0", "bob", false],
			["1.0.0", "alice", false],
		]);
		expect(rows.map((r) => r.previous_history_id)).toEqual([rows[1]?.id, rows[2]?.id, null]);
		expect(states.map((s) => s.historyId)).toEqual(rows.map((r) => r.id).reverse());
		expect(states[0]).toEqual({ channel: "stable", version: "1.0.0", historyId: rows[2]?.id, at: AT, by: "alice" });
	});

	it("lists channels by name and shows them as npm dist-tags", async () => {
		const seen = await withChannels((channels) => {
			play(channels, [
				["stable", "1.0.0"],
				["beta", "2.0.0"],
				["latest", "2.0.0"],
				["beta", "3.0.0"],
			]);
			return {
				list: channels.list().map((c) => [c.channel, c.version]),
				tags: channels.distTags(),
				missing: channels.get("nope"),
				beta: channels.get("beta")?.version,
			};
		});
		expect(seen).toEqual({
			list: [
				["beta", "3.0.0"],
				["latest", "2.0.0"],
				["stable", "1.0.0"],
			],
			tags: { beta: "3.0.0", latest: "2.0.0", stable: "1.0.0" },
			missing: null,
			beta: "3.0.0",
		});
	});

	it.each<[string, Step[], Seen]>([
		[
			"rollback walks back one row at a time and never appends",
			[
				["stable", "1.0.0"],
				["stable", "2.0.0"],
				["stable", "3.0.0"],
			],
			{ history: ["3.0.0*", "2.0.0", "1.0.0"], rollbacks: ["2.0.0", "1.0.0"] },
		],
		[
			"a move after a rollback links to the row the pointer was at, leaving the abandoned row out of the chain",
			[
				["stable", "1.0.0"],
				["stable", "2.0.0"],
				["stable", "3.0.0"],
				["stable", "rollback"],
				["stable", "4.0.0"],
			],
			{ history: ["4.0.0*", "3.0.0", "2.0.0", "1.0.0"], rollbacks: ["2.0.0", "1.0.0"] },
		],
		[
			"the same version twice is two rows, and rollback lands on the older one",
			[
				["stable", "1.0.0"],
				["stable", "2.0.0"],
				["stable", "2.0.0"],
			],
			{ history: ["2.0.0*", "2.0.0", "1.0.0"], rollbacks: ["2.0.0", "1.0.0"] },
		],
		[
			"channels keep their own chains",
			[
				["stable", "1.0.0"],
				["beta", "2.0.0"],
				["stable", "3.0.0"],
				["beta", "4.0.0"],
				["beta", "rollback"],
			],
			{ history: ["3.0.0*", "1.0.0"], rollbacks: ["1.0.0"] },
		],
	])("%s", async (_name, steps, expected) => {
		expect(
			await withChannels((channels) => {
				play(channels, steps);
				return inspect(channels, "stable");
			}),
		).toEqual(expected);
	});
});

describe("rolling back", () => {
	it("moves to a chosen earlier row of the same chain in one step", async () => {
		const seen = await withChannels((channels) => {
			play(channels, [
				["stable", "1.0.0"],
				["stable", "2.0.0"],
				["stable", "3.0.0"],
				["stable", "4.0.0"],
			]);
			const target = channels.history("stable")?.find((row) => row.version === "2.0.0");
			const rolled = channels.rollback("stable", target?.id);
			return {
				rolled: rolled.ok ? rolled.value.historyId : rolled.code,
				target: target?.id,
				...inspect(channels, "stable"),
			};
		});
		expect(seen).toMatchObject({ history: ["4.0.0", "3.0.0", "2.0.0*", "1.0.0"], rollbacks: ["1.0.0"] });
		expect(seen.rolled).toBe(seen.target);
	});

	type Ids = { current: number; newer: number; otherChannel: number };
	it.each<[string, string, (ids: Ids) => number | undefined, string]>([
		["an unknown channel", "ghost", () => undefined, 'notFound: channel "ghost" does not exist'],
		[
			"the current row itself",
			"stable",
			(ids) => ids.current,
			'unprocessable: history entry {to} is not an earlier entry of channel "stable"',
		],
		[
			"a newer row of the chain",
			"stable",
			(ids) => ids.newer,
			'unprocessable: history entry {to} is not an earlier entry of channel "stable"',
		],
		[
			"a row of another channel",
			"stable",
			(ids) => ids.otherChannel,
			'unprocessable: history entry {to} is not an earlier entry of channel "stable"',
		],
		[
			"a row that does not exist",
			"stable",
			() => 999_999,
			'unprocessable: history entry {to} is not an earlier entry of channel "stable"',
		],
	])("refuses %s, leaving the pointer where it was", async (_name, channel, pick, expected) => {
		const seen = await withChannels((channels) => {
			play(channels, [
				["stable", "1.0.0"],
				["stable", "2.0.0"],
				["stable", "3.0.0"],
				["stable", "rollback"],
				["beta", "1.0.0"],
			]);
			const rows = channels.history("stable") ?? [];
			const to = pick({
				current: rows.find((r) => r.current)?.id ?? 0,
				newer: rows[0]?.id ?? 0,
				otherChannel: channels.get("beta")?.historyId ?? 0,
			});
			const refused = channels.rollback(channel, to);
			return {
				refusal: refused.ok ? null : `${refused.code}: ${refused.message}`,
				to,
				pointer: channels.get("stable")?.version,
			};
		});
		expect(seen.refusal).toBe(expected.replace("{to}", String(seen.to)));
		expect(seen.pointer).toBe("2.0.0");
	});

	it("refuses to go past the first row with a conflict", async () => {
		const refused = await withChannels((channels) => {
			channels.move("stable", "1.0.0", "tester", AT);
			return channels.rollback("stable");
		});
		expect(refused).toEqual({
			ok: false,
			code: "conflict",
			message: 'channel "stable" has no earlier entry to roll back to',
		});
	});
});

describe("history and removal", () => {
	it("has no history for a channel that does not exist", async () => {
		expect(await withChannels((channels) => channels.history("ghost"))).toBeNull();
	});

	it("removes a channel with its whole chain; a later move starts a fresh chain", async () => {
		const seen = await withChannels((channels) => {
			play(channels, [
				["beta", "1.0.0"],
				["beta", "2.0.0"],
				["stable", "1.0.0"],
			]);
			const removed = channels.remove("beta");
			const again = channels.remove("beta");
			const gone = channels.history("beta");
			channels.move("beta", "3.0.0", "tester", AT);
			return { removed, again, gone, fresh: channels.history("beta"), stable: inspect(channels, "stable") };
		});
		expect(seen.removed).toBe(true);
		expect(seen.again).toBe(false);
		expect(seen.gone).toBeNull();
		expect(seen.fresh?.map((r) => [r.version, r.previous_history_id, r.current])).toEqual([["3.0.0", null, true]]);
		expect(seen.stable).toEqual({ history: ["1.0.0*"], rollbacks: [] });
	});
});

describe("protecting versions", () => {
	/** `count` moves of `channel` to 1.0.0, 2.0.0, … */
	const moves = (channel: string, count: number): Step[] =>
		Array.from({ length: count }, (_, i): Step => [channel, `${i + 1}.0.0`]);

	it.each<[string, Step[], string, string[]]>([
		["a version in the last entry", moves("stable", 1), "1.0.0", ["stable"]],
		["a version 10 entries back", moves("stable", 10), "1.0.0", ["stable"]],
		["a version 11 entries back", moves("stable", 11), "1.0.0", []],
		["the 10th entry of 11", moves("stable", 11), "2.0.0", ["stable"]],
		["a version no channel mentions", moves("stable", 3), "9.9.9", []],
		[
			"a version in several channels, sorted by name",
			[...moves("stable", 2), ["beta", "2.0.0"]],
			"2.0.0",
			["beta", "stable"],
		],
		[
			"depth counts rows, not distinct versions",
			[["stable", "1.0.0"], ...Array.from({ length: 10 }, (): Step => ["stable", "2.0.0"])],
			"1.0.0",
			[],
		],
		[
			"the version a channel points at, however deep its row (a rollback far back)",
			[...moves("stable", 11), ...Array.from({ length: 10 }, (): Step => ["stable", "rollback"])],
			"1.0.0",
			["stable"],
		],
		[
			"rows stay counted after a rollback (rollback appends nothing)",
			[...moves("stable", 11), ["stable", "rollback"]],
			"1.0.0",
			[],
		],
	])("%s", async (_name, steps, version, expected) => {
		expect(
			await withChannels((channels) => {
				play(channels, steps);
				return channels.protectingChannels(version);
			}),
		).toEqual(expected);
	});
});

describe("splicing a deleted version out of every chain", () => {
	it.each<[string, Step[], string, Record<string, Seen>]>([
		[
			"a channel at the version falls back to its previous row",
			[
				["stable", "1.0.0"],
				["stable", "2.0.0"],
				["stable", "3.0.0"],
			],
			"3.0.0",
			{ stable: { history: ["2.0.0*", "1.0.0"], rollbacks: ["1.0.0"] } },
		],
		[
			"the fallback skips earlier rows of the same version",
			[
				["stable", "1.0.0"],
				["stable", "3.0.0"],
				["stable", "3.0.0"],
			],
			"3.0.0",
			{ stable: { history: ["1.0.0*"], rollbacks: [] } },
		],
		[
			"the fallback is the nearest earlier row of another version, whose link to a removed row is cut",
			[
				["stable", "1.0.0"],
				["stable", "3.0.0"],
				["stable", "2.0.0"],
				["stable", "3.0.0"],
			],
			"3.0.0",
			{ stable: { history: ["2.0.0*", "1.0.0"], rollbacks: [] } },
		],
		[
			"a channel rolled back onto the version falls back along the chain from its pointer",
			[
				["stable", "1.0.0"],
				["stable", "2.0.0"],
				["stable", "3.0.0"],
				["stable", "rollback"],
			],
			"2.0.0",
			{ stable: { history: ["3.0.0", "1.0.0*"], rollbacks: [] } },
		],
		[
			"a channel whose chain holds only that version is removed",
			[
				["solo", "3.0.0"],
				["solo", "3.0.0"],
				["stable", "1.0.0"],
			],
			"3.0.0",
			{ solo: null, stable: { history: ["1.0.0*"], rollbacks: [] } },
		],
		[
			"a channel past the version keeps its pointer; the row after the cut loses its link, so rollback stops there",
			[
				["stable", "1.0.0"],
				["stable", "2.0.0"],
				["stable", "3.0.0"],
			],
			"2.0.0",
			{ stable: { history: ["3.0.0*", "1.0.0"], rollbacks: [] } },
		],
		[
			"rows before the cut keep their links",
			[
				["stable", "1.0.0"],
				["stable", "2.0.0"],
				["stable", "3.0.0"],
				["stable", "4.0.0"],
			],
			"4.0.0",
			{ stable: { history: ["3.0.0*", "2.0.0", "1.0.0"], rollbacks: ["2.0.0", "1.0.0"] } },
		],
		[
			"every channel is spliced at once",
			[
				["stable", "1.0.0"],
				["stable", "2.0.0"],
				["beta", "4.0.0"],
				["beta", "2.0.0"],
				["next", "2.0.0"],
			],
			"2.0.0",
			{
				stable: { history: ["1.0.0*"], rollbacks: [] },
				beta: { history: ["4.0.0*"], rollbacks: [] },
				next: null,
			},
		],
		[
			"a version no chain mentions changes nothing",
			[
				["stable", "1.0.0"],
				["stable", "2.0.0"],
			],
			"9.9.9",
			{ stable: { history: ["2.0.0*", "1.0.0"], rollbacks: ["1.0.0"] } },
		],
	])("%s", async (_name, steps, version, expected) => {
		const seen = await withChannels((channels) => {
			play(channels, steps);
			channels.spliceVersion(version);
			return Object.fromEntries(Object.keys(expected).map((channel) => [channel, inspect(channels, channel)]));
		});
		expect(seen).toEqual(expected);
	});

	it("leaves no rows of a removed channel behind: moving it again starts a fresh chain", async () => {
		const fresh = await withChannels((channels) => {
			play(channels, [
				["solo", "1.0.0"],
				["solo", "1.0.0"],
			]);
			channels.spliceVersion("1.0.0");
			channels.move("solo", "2.0.0", "tester", AT);
			return channels.history("solo")?.map((r) => [r.version, r.previous_history_id]);
		});
		expect(fresh).toEqual([["2.0.0", null]]);
	});
});
