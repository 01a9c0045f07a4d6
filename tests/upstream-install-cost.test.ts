import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../schema/config";
import { packageStub, runPackageAlarm } from "./helpers/package-object";
import { call, uniqueName } from "./helpers/registry";
import { ABBREVIATED, publishUpstream } from "./helpers/upstream";

// What an install through this registry as a proxy costs beside the requests themselves (#25):
// the background work it leaves behind runs after it, not in the middle of it.

const alarmOf = (name: string) => runInDurableObject(packageStub(name), (_instance, state) => state.storage.getAlarm());

describe("the upstream figures of an install", () => {
	it("are sent 30 s after an object's first count, not DOWNLOAD_FLUSH_SECONDS, so an install's objects do not all wake during it (#25)", async () => {
		expect(DEFAULTS.downloadFlushSeconds * 1000).toBeLessThan(30_000);
		const name = uniqueName("up-figures-later");
		await publishUpstream(name, "1.0.0");
		const asked = Date.now();
		const packument = await call(`/${name}`, { headers: { accept: ABBREVIATED, "cache-control": "no-cache" } });
		expect(packument.status).toBe(200);
		const tarball = await call(`/${name}/-/${name}-1.0.0.tgz`, { headers: { "cache-control": "no-cache" } });
		expect(tarball.status).toBe(200);
		await tarball.arrayBuffer();
		const alarm = await alarmOf(name);
		expect(alarm).not.toBeNull();
		expect(alarm ?? 0).toBeGreaterThanOrEqual(asked + 30_000);
		expect(alarm ?? 0).toBeLessThanOrEqual(Date.now() + 30_000);
		// The alarm sends them, and the object has nothing left for later.
		await runPackageAlarm(name);
		expect(await alarmOf(name)).toBeNull();
	});
});
