import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../schema/config";
import { call, uniqueName } from "./helpers/registry";
import { ABBREVIATED, ageCopies, packageTables, upstreamRequests } from "./helpers/upstream";

// Issue #22's items about the upstream proxy, each through the HTTP surface with a hostile
// upstream in the test network (tests/helpers/upstream-network.js).

const NOT_FOUND = DEFAULTS.upstreamNotFoundSeconds * 1000;
/** Requests that skip the Worker's read tier: what the package's object makes of them. */
const fresh = { "cache-control": "no-cache" };

describe("a name no upstream has", () => {
	it("#22.2 creates no package database, and is asked upstream once per UPSTREAM_NOT_FOUND_SECONDS", async () => {
		const name = uniqueName("up-made-up");
		const reads = [
			() => call(`/${name}`, { headers: fresh }),
			() => call(`/${name}`, { headers: { ...fresh, accept: ABBREVIATED } }),
			() => call(`/${name}/1.0.0`, { headers: fresh }),
			() => call(`/${name}/latest`, { headers: fresh }),
			() => call(`/${name}/-/${name}-1.0.0.tgz`, { headers: fresh }),
		];
		for (const read of [...reads, ...reads]) expect((await read()).status).toBe(404);
		const asked = async () => (await upstreamRequests(name)).length;
		expect(await asked()).toBe(1);
		expect(await upstreamRequests(name, "second-upstream.test")).toHaveLength(1);
		expect(await packageTables(name)).toEqual([]);

		await ageCopies(name, NOT_FOUND + 1000);
		for (const read of reads) expect((await read()).status).toBe(404);
		expect(await asked()).toBe(2);
		expect(await packageTables(name)).toEqual([]);
	});
});
