import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { sendDownloadCounts } from "../worker/read-tier/downloads";
import { memoryForgetPackage } from "../worker/read-tier/memory";
import { router } from "../worker/router";
import { ADMIN, call, publish, publisherFor, uniqueName } from "./helpers/registry";

// A cold key under load (#23.7): right after a start, many requests ask for the same thing at
// once. The read tier lets one of them ask the object and the others wait for its answer
// (worker/read-tier/tier.ts); each request must still build its own response, never touch an
// I/O object (a body, a stream) another request made, and get the whole answer.

const CONCURRENT = 32;
const outcome = (res: Response) => res.headers.get("x-registry-cache");

async function objectCalls(): Promise<number> {
	const metrics = (await (await call("/-/admin/metrics", { token: ADMIN })).json()) as {
		objectCalls: Record<string, number>;
	};
	return metrics.objectCalls.package ?? 0;
}

async function publicPackageOnAChannel() {
	const name = uniqueName("cold");
	const token = await publisherFor(name);
	expect((await publish(name, "1.0.0", token, { access: "public" })).status).toBe(201);
	const channel = await call(`/packages/${name}/channels/stable`, {
		method: "POST",
		token,
		body: JSON.stringify({ version: "1.0.0" }),
	});
	expect(channel.status).toBe(201);
	return name;
}

/** Every read the tier answers, as installers and loaders make them. */
function reads(name: string): [string, Record<string, string>][] {
	return [
		[`/${name}`, {}],
		[`/${name}`, { accept: "application/vnd.npm.install-v1+json" }],
		[`/${name}`, { "if-none-match": '"stale"' }],
		[`/${name}/1.0.0`, {}],
		[`/${name}/-/${name}-1.0.0.tgz`, {}],
		[`/packages/${name}/channels/stable`, {}],
		[`/files/${name}@1.0.0/index.js`, {}],
	];
}

/** CONCURRENT requests at once, each read to the end: statuses, outcomes and bodies. */
async function together(path: string, headers: Record<string, string>) {
	const responses = await Promise.all(Array.from({ length: CONCURRENT }, () => call(path, { headers })));
	const bodies = await Promise.all(responses.map(async (res) => new Uint8Array(await res.arrayBuffer())));
	return { statuses: responses.map((res) => res.status), outcomes: responses.map(outcome), bodies };
}

describe("a cold key read by many at once (#23.7)", () => {
	it("gives every one of 32 concurrent first reads the whole answer, asking the object only for misses", async () => {
		const name = await publicPackageOnAChannel();
		for (const [path, headers] of reads(name)) {
			const before = await objectCalls();
			const { statuses, outcomes, bodies } = await together(path, headers);
			expect(statuses, path).toEqual(Array(CONCURRENT).fill(200));
			const misses = outcomes.filter((o) => o === "miss").length;
			expect(misses + outcomes.filter((o) => o === "hit").length, path).toBe(CONCURRENT);
			// Those that waited for another's fill took its answer instead of asking.
			expect(misses, path).toBeLessThan(CONCURRENT);
			expect((await objectCalls()) - before, path).toBe(misses);
			const [first] = bodies;
			expect(first?.byteLength, path).toBeGreaterThan(0);
			for (const body of bodies) expect(body, path).toEqual(first);
		}
		await sendDownloadCounts(env);
	});

	it("gives every one of 32 concurrent reads after a restart the whole answer from the colo's cache", async () => {
		const name = await publicPackageOnAChannel();
		for (const [path, headers] of reads(name)) {
			// A first read fills the colo's cache (after its answer, as the platform runs waitUntil)…
			const ctx = createExecutionContext();
			const res = await router.fetch(new Request(`http://registry.test${path}`, { headers }), env, ctx);
			const expected = new Uint8Array(await res.arrayBuffer());
			await waitOnExecutionContext(ctx);
			// …then this isolate forgets everything, as a restarted one would have.
			memoryForgetPackage(name);
			const { statuses, bodies } = await together(path, headers);
			expect(statuses, path).toEqual(Array(CONCURRENT).fill(200));
			for (const body of bodies) expect(body, path).toEqual(expected);
		}
		await sendDownloadCounts(env);
	});
});
