import { describe, expect, it } from "vitest";
import { ADMIN, ALL, call, createToken, publish, publisherFor, readPackument, uniqueName } from "./helpers/registry";

// The channel model: named pointers with their own history chain, moved by the channel API and
// by npm dist-tags alike; rollback walks the chain; deleting a version splices it out.

type ChannelState = {
	packageId: string;
	channel: string;
	versionId: string;
	version: string;
	publishedAt: string;
	historyId: number;
	index: string | null;
	baseUri: string;
	integrity: string | null;
};
type HistoryRow = { id: number; version: string; previousHistoryId: number | null; current: boolean; by: string };

const json = (body: unknown) => JSON.stringify(body);

function api(name: string, token: string | null) {
	const base = `/packages/${name}`;
	return {
		move: (channel: string, body: unknown) =>
			call(`${base}/channels/${channel}`, { method: "POST", token, body: json(body) }),
		rollback: (channel: string, body?: unknown) =>
			call(`${base}/channels/${channel}/rollback`, {
				method: "POST",
				token,
				body: body === undefined ? "" : json(body),
			}),
		promote: (to: string, from: string) =>
			call(`${base}/channels/${to}/promote`, { method: "POST", token, body: json({ from }) }),
		promoteWith: (to: string, body: unknown) =>
			call(`${base}/channels/${to}/promote`, { method: "POST", token, body: json(body) }),
		get: (channel: string, headers: Record<string, string> = {}) =>
			call(`${base}/channels/${channel}`, { token, headers }),
		history: async (channel: string) =>
			((await (await call(`${base}/channels/${channel}/history`, { token })).json()) as { history: HistoryRow[] })
				.history,
		state: async (channel: string) =>
			(await (await call(`${base}/channels/${channel}`, { token })).json()) as ChannelState,
		deleteVersion: (version: string, force = false, as = token) =>
			call(`${base}/versions/${version}${force ? "?force=true" : ""}`, { method: "DELETE", token: as }),
	};
}

/** A package with versions 1.0.0 … n.0.0 published (latest at the last), and a token for it. */
async function packageWithVersions(count: number, access: "public" | "restricted" = "public") {
	const name = uniqueName("wc");
	const token = await publisherFor(name);
	for (let i = 1; i <= count; i++) {
		const res = await publish(name, `${i}.0.0`, token, { access });
		expect(res.status).toBe(201);
	}
	return { name, token, channels: api(name, token) };
}

describe("channel history", () => {
	it("appends a row per publish, newest first, each linked to the one it replaced", async () => {
		const { channels } = await packageWithVersions(3);
		for (const version of ["1.0.0", "2.0.0", "3.0.0"]) {
			const res = await channels.move("stable", { version });
			expect(res.status).toBe(201);
			expect(((await res.json()) as ChannelState).version).toBe(version);
		}
		const history = await channels.history("stable");
		expect(history.map((h) => [h.version, h.current])).toEqual([
			["3.0.0", true],
			["2.0.0", false],
			["1.0.0", false],
		]);
		expect(history[0]?.previousHistoryId).toBe(history[1]?.id);
		expect(history[1]?.previousHistoryId).toBe(history[2]?.id);
		expect(history[2]?.previousHistoryId).toBeNull();
		expect(history[0]?.by).toMatch(/^test \(dev_[0-9a-f]{8}\)$/);
	});

	it("rolls back one published step at a time and refuses to go past the first entry", async () => {
		const { channels } = await packageWithVersions(3);
		for (const version of ["1.0.0", "2.0.0", "3.0.0"]) await channels.move("stable", { version });
		const rowsBefore = (await channels.history("stable")).length;

		const first = await channels.rollback("stable");
		expect(first.status).toBe(200);
		expect(((await first.json()) as ChannelState).version).toBe("2.0.0");
		expect((await channels.state("stable")).version).toBe("2.0.0");
		await channels.rollback("stable", {});
		expect((await channels.state("stable")).version).toBe("1.0.0");

		const past = await channels.rollback("stable");
		expect(past.status).toBe(409);
		expect(((await past.json()) as { error: string }).error).toMatch(/no earlier entry/);
		expect((await channels.state("stable")).version).toBe("1.0.0");
		// Each rollback is an entry beside the chain (#24.4); the refused one left none.
		const history = await channels.history("stable");
		expect(history).toHaveLength(rowsBefore + 2);
		expect(history.find((h) => h.current)?.version).toBe("1.0.0");
	});

	it("rolls back to a chosen earlier row of the same chain in one step", async () => {
		const { channels } = await packageWithVersions(4);
		for (const version of ["1.0.0", "2.0.0", "3.0.0", "4.0.0"]) await channels.move("stable", { version });
		await channels.move("beta", { version: "4.0.0" });
		const history = await channels.history("stable");
		const target = history.find((h) => h.version === "2.0.0");
		const res = await channels.rollback("stable", { to: target?.id });
		expect(res.status).toBe(200);
		expect((await channels.state("stable")).version).toBe("2.0.0");

		const newer = history.find((h) => h.version === "4.0.0");
		const betaRow = (await channels.history("beta"))[0];
		for (const to of [newer?.id, betaRow?.id, 999_999]) {
			const refused = await channels.rollback("stable", { to });
			expect(refused.status).toBe(422);
		}
		expect((await channels.rollback("stable", { to: "x" })).status).toBe(400);
		expect((await channels.state("stable")).version).toBe("2.0.0");
	});

	it("continues from the current position when publishing after a rollback", async () => {
		const { channels } = await packageWithVersions(4);
		for (const version of ["1.0.0", "2.0.0", "3.0.0"]) await channels.move("stable", { version });
		await channels.rollback("stable");
		await channels.rollback("stable");
		await channels.move("stable", { version: "4.0.0" });
		await channels.rollback("stable");
		expect((await channels.state("stable")).version).toBe("1.0.0");
		expect((await channels.rollback("stable")).status).toBe(409);
	});

	it("keeps channels independent", async () => {
		const { channels } = await packageWithVersions(3);
		await channels.move("stable", { version: "1.0.0" });
		await channels.move("beta", { version: "2.0.0" });
		await channels.move("beta", { version: "3.0.0" });
		await channels.rollback("beta");
		expect((await channels.state("stable")).version).toBe("1.0.0");
		expect((await channels.state("beta")).version).toBe("2.0.0");
		expect((await channels.history("stable")).map((h) => h.version)).toEqual(["1.0.0"]);
	});

	it("writes two rows when the same version is published twice, and rollback lands on it again", async () => {
		const { channels } = await packageWithVersions(2);
		await channels.move("stable", { version: "1.0.0" });
		await channels.move("stable", { version: "2.0.0" });
		await channels.move("stable", { version: "2.0.0" });
		expect((await channels.history("stable")).map((h) => h.version)).toEqual(["2.0.0", "2.0.0", "1.0.0"]);
		await channels.rollback("stable");
		expect((await channels.state("stable")).version).toBe("2.0.0");
		await channels.rollback("stable");
		expect((await channels.state("stable")).version).toBe("1.0.0");
	});

	it("promotes: points a channel at the version another channel points at now", async () => {
		const { channels } = await packageWithVersions(2);
		await channels.move("stable", { version: "1.0.0" });
		await channels.move("beta", { version: "2.0.0" });
		const res = await channels.promote("stable", "beta");
		expect(res.status).toBe(201);
		expect(((await res.json()) as ChannelState).version).toBe("2.0.0");
		expect((await channels.history("stable")).map((h) => h.version)).toEqual(["2.0.0", "1.0.0"]);
		expect((await channels.promote("stable", "missing")).status).toBe(404);
	});

	it("publishes by versionId, and refuses unknown versions and malformed bodies", async () => {
		const { name, token, channels } = await packageWithVersions(1);
		const latest = await channels.state("latest");
		const byId = await channels.move("stable", { versionId: latest.versionId });
		expect(byId.status).toBe(201);
		expect(((await byId.json()) as ChannelState).version).toBe("1.0.0");
		const cases: [unknown, number][] = [
			[{ version: "9.9.9" }, 404],
			[{ versionId: crypto.randomUUID() }, 404],
			[{ version: "not-semver" }, 400],
			[{ versionId: "nope" }, 400],
			[{}, 400],
			[{ version: "1.0.0", extra: 1 }, 400],
		];
		for (const [body, status] of cases) expect((await channels.move("stable", body)).status, json(body)).toBe(status);
		const malformed = await call(`/packages/${name}/channels/stable`, { method: "POST", token, body: "{" });
		expect(malformed.status).toBe(400);
		expect((await channels.move("1.0.0", { version: "1.0.0" })).status).toBe(400);
		expect((await channels.history("stable")).length).toBe(1);
	});

	it("is the same pointer as npm dist-tags, in both directions", async () => {
		const { name, token, channels } = await packageWithVersions(2);
		await call(`/-/package/${name}/dist-tags/stable`, { method: "PUT", token, body: json("1.0.0") });
		await channels.move("stable", { version: "2.0.0" });
		expect((await readPackument(name, token))["dist-tags"].stable).toBe("2.0.0");
		expect((await channels.history("stable")).map((h) => h.version)).toEqual(["2.0.0", "1.0.0"]);
		await channels.rollback("stable");
		expect((await readPackument(name, token))["dist-tags"].stable).toBe("1.0.0");
		const listed = (await (await call(`/packages/${name}/channels`, { token })).json()) as {
			channels: { channel: string; version: string }[];
		};
		expect(listed.channels.map((c) => [c.channel, c.version])).toEqual([
			["latest", "2.0.0"],
			["stable", "1.0.0"],
		]);
	});
});

describe("channel name typos (#24.5)", () => {
	it("refuses creating a channel a slip away from an existing one, saying which, unless create is true", async () => {
		const { name, channels } = await packageWithVersions(2);
		expect((await channels.move("stable", { version: "1.0.0" })).status).toBe(201);
		const typo = await channels.move("stabel", { version: "2.0.0" });
		expect(typo.status).toBe(409);
		const body = (await typo.json()) as { error: string; code: string };
		expect(body.error).toContain("did you mean stable?");
		expect(body.error).toContain('{"create": true}');
		// Nothing was created, and stable did not move.
		expect((await channels.get("stabel")).status).toBe(404);
		expect((await channels.state("stable")).version).toBe("1.0.0");
		expect((await channels.move("Stable", { version: "2.0.0" })).status).toBe(409);
		expect((await channels.promote("stabe", "latest")).status).toBe(409);

		expect((await channels.move("stabel", { version: "2.0.0", create: true })).status).toBe(201);
		expect((await readPackument(name))["dist-tags"]).toEqual({ latest: "2.0.0", stable: "1.0.0", stabel: "2.0.0" });
		// Once it exists, writes to it are ordinary moves.
		expect((await channels.move("stabel", { version: "1.0.0" })).status).toBe(201);
	});

	it("lets numbered and extended names, distant names and existing channels through", async () => {
		const { channels } = await packageWithVersions(2);
		for (const channel of ["v1", "v2", "beta1", "beta2", "beta", "beta-next", "canary", "stable"]) {
			expect((await channels.move(channel, { version: "1.0.0" })).status, channel).toBe(201);
		}
		expect((await channels.move("stable", { version: "2.0.0" })).status).toBe(201);
		expect((await channels.promoteWith("stabel", { from: "stable", create: true })).status).toBe(201);
	});

	it("leaves npm dist-tags and lookups as they were", async () => {
		const { name, token, channels } = await packageWithVersions(2);
		await channels.move("stable", { version: "1.0.0" });
		const tag = await call(`/-/package/${name}/dist-tags/stabel`, { method: "PUT", token, body: json("2.0.0") });
		expect(tag.status).toBe(201);
		expect((await channels.state("stabel")).version).toBe("2.0.0");
		expect((await channels.get("stabe")).status).toBe(404);
	});
});

describe("deleting versions", () => {
	it("protects versions in a loader channel's last 10 entries unless its publisher forces it (#13)", async () => {
		const { name, channels } = await packageWithVersions(2);
		await channels.move("stable", { version: "1.0.0" });
		const refused = await channels.deleteVersion("1.0.0");
		expect(refused.status).toBe(409);
		expect(((await refused.json()) as { error: string }).error).toBe(
			`version 1.0.0 is protected: channel "stable" points at it or may roll back to it; move or roll it to another version first, or delete the version anyway with DELETE /packages/${name}/versions/1.0.0?force=true`,
		);
		// Several channels: the message names them all and agrees in number, with the name filled in (#24.6).
		await channels.move("beta", { version: "1.0.0" });
		const both = ((await (await channels.deleteVersion("1.0.0")).json()) as { error: string }).error;
		expect(both).toContain('channels "beta" and "stable" point at it');
		expect(both).not.toContain("{name}");
		expect((await channels.state("stable")).version).toBe("1.0.0");
		// force=true is the publisher's own choice now, audited; no admin needed.
		expect((await channels.deleteVersion("1.0.0", true)).status).toBe(200);
		expect((await channels.get("stable")).status).toBe(404);
	});

	it("lets a version go once it has fallen out of every loader channel's last 10 entries; latest protects nothing", async () => {
		const { name, token, channels } = await packageWithVersions(1);
		for (let i = 1; i <= 11; i++) {
			await publish(name, `1.0.${i}`, token, { access: "public" });
			await channels.move("stable", { version: `1.0.${i}` });
		}
		// stable went through 1.0.1 … 1.0.11: 1.0.1 is 11 entries back, 1.0.2 is 10.
		expect((await channels.deleteVersion("1.0.1")).status).toBe(200);
		expect((await channels.deleteVersion("1.0.2")).status).toBe(409);
		// 1.0.0 was only ever latest's.
		expect((await channels.deleteVersion("1.0.0")).status).toBe(200);
	});

	it("splices a deleted version out of every chain: channels move back, rollback stops at the cut", async () => {
		const { channels } = await packageWithVersions(4);
		for (const version of ["1.0.0", "2.0.0", "3.0.0"]) await channels.move("stable", { version });
		await channels.move("beta", { version: "4.0.0" });
		await channels.move("beta", { version: "3.0.0" });
		await channels.move("solo", { version: "3.0.0" });

		expect((await channels.deleteVersion("3.0.0", true, ADMIN)).status).toBe(200);
		// stable was at 3.0.0: it moves back to its previous row; beta likewise; solo had nothing else.
		expect((await channels.state("stable")).version).toBe("2.0.0");
		expect((await channels.state("beta")).version).toBe("4.0.0");
		expect((await channels.get("solo")).status).toBe(404);
		expect((await channels.history("stable")).map((h) => h.version)).toEqual(["2.0.0", "1.0.0"]);

		await channels.move("stable", { version: "4.0.0" });
		expect((await channels.deleteVersion("2.0.0", true, ADMIN)).status).toBe(200);
		// The row after the deleted one lost its link: rollback stops there instead of skipping.
		const history = await channels.history("stable");
		expect(history.map((h) => [h.version, h.previousHistoryId === null])).toEqual([
			["4.0.0", true],
			["1.0.0", true],
		]);
		expect((await channels.rollback("stable")).status).toBe(409);
	});

	it("keeps latest pointing at a real version", async () => {
		const { name, token, channels } = await packageWithVersions(3);
		expect((await channels.deleteVersion("3.0.0", true, ADMIN)).status).toBe(200);
		expect((await readPackument(name, token))["dist-tags"].latest).toBe("2.0.0");
		expect((await channels.deleteVersion("9.9.9", true, ADMIN)).status).toBe(404);
		expect((await channels.deleteVersion("bad")).status).toBe(400);
	});
});

describe("channel lookup", () => {
	it("answers what a loader needs, revalidated on every load and 304 when unchanged", async () => {
		const { name, channels } = await packageWithVersions(2);
		await channels.move("stable", { version: "1.0.0" });
		await channels.move("stable", { version: "2.0.0" });
		const res = await channels.get("stable");
		expect(res.status).toBe(200);
		expect(res.headers.get("cache-control")).toBe("public, no-cache");
		expect(res.headers.get("access-control-allow-origin")).toBe("*");
		const state = (await res.json()) as ChannelState;
		expect(state).toMatchObject({ channel: "stable", version: "2.0.0" });
		expect(state.packageId).toMatch(/^[0-9a-f-]{36}$/);
		expect(state.versionId).toMatch(/^[0-9a-f-]{36}$/);
		expect(state.baseUri).toBe(`http://registry.test/files/${name}@2.0.0`);
		expect(state.index).toBe(`${state.baseUri}/index.js`);

		const entry = await call(new URL(state.index ?? "").pathname);
		const bytes = new Uint8Array(await entry.arrayBuffer());
		const sha384 = new Uint8Array(await crypto.subtle.digest("SHA-384", bytes)).toBase64();
		expect(state.integrity).toBe(`sha384-${sha384}`);

		const etag = res.headers.get("etag") ?? "";
		expect((await channels.get("stable", { "if-none-match": etag })).status).toBe(304);
		await channels.rollback("stable");
		const after = await channels.get("stable", { "if-none-match": etag });
		expect(after.status).toBe(200);
		expect(((await after.json()) as ChannelState).version).toBe("1.0.0");
	});

	it("gives an import map fragment with the entry's integrity", async () => {
		const { name, channels } = await packageWithVersions(1);
		await channels.move("stable", { version: "1.0.0" });
		const state = await channels.state("stable");
		const map = await (await call(`/packages/${name}/channels/stable/importmap`)).json();
		expect(map).toEqual({
			imports: { [name]: state.index, [`${name}/`]: `${state.baseUri}/` },
			integrity: { [state.index ?? ""]: state.integrity },
		});
	});

	it("answers 404 for unknown packages and channels, and 400 for invalid channel names", async () => {
		const { channels } = await packageWithVersions(1);
		expect((await channels.get("nope")).status).toBe(404);
		expect((await api(uniqueName(), null).get("stable")).status).toBe(404);
		expect((await channels.get("bad%20name")).status).toBe(400);
	});

	it("answers CORS preflights for Authorization", async () => {
		const res = await call("/packages/@acc%2Fwidget/channels/stable", {
			method: "OPTIONS",
			headers: { origin: "http://page.test", "access-control-request-headers": "authorization" },
		});
		expect(res.status).toBe(204);
		expect(res.headers.get("access-control-allow-origin")).toBe("*");
		expect(res.headers.get("access-control-allow-headers")).toMatch(/authorization/);
		expect(res.headers.get("access-control-allow-methods")).toMatch(/GET/);
	});
});

describe("channel permissions", () => {
	it("lets customers with a grant read restricted channels, never move them", async () => {
		const scope = `@${uniqueName("acc")}`;
		const name = `${scope}/widget`;
		const token = await publisherFor(scope);
		await publish(name, "1.0.0", token);
		await publish(name, "2.0.0", token);
		const dev = api(name, token);
		await dev.move("stable", { version: "2.0.0" });

		const customer = api(name, (await createToken([{ package: name, permissions: ["read"] }], "customer")).token);
		const state = (await (await customer.get("stable")).json()) as ChannelState;
		expect(state.version).toBe("2.0.0");
		expect(state.baseUri).toMatch(new RegExp(`^http://registry\\.test/files/~[A-Za-z0-9_-]{43}/${name}@2\\.0\\.0$`));
		expect((await customer.move("stable", { version: "1.0.0" })).status).toBe(403);
		expect((await customer.rollback("stable")).status).toBe(403);

		const stranger = api(name, (await createToken([{ scope: "@other", permissions: ALL }])).token);
		expect((await stranger.get("stable")).status).toBe(404);
		expect((await stranger.move("stable", { version: "1.0.0" })).status).toBe(403);
		expect((await api(name, null).get("stable")).status).toBe(404);
		expect((await api(name, null).move("stable", { version: "1.0.0" })).status).toBe(401);
		const uploader = api(name, (await createToken([{ scope, permissions: ["read", "upload"] }])).token);
		expect((await uploader.move("stable", { version: "1.0.0" })).status).toBe(403);
		expect((await dev.state("stable")).version).toBe("2.0.0");
	});
});
