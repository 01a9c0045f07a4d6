import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { BlobWriter, PART_BUDGET_BYTES, PART_BYTES, partBytesHeld } from "../durable-objects/blob-writer";
import { router } from "../worker/router";
import { ADMIN, publishBody, uniqueName } from "./helpers/registry";

// #22.4: concurrent publishes share the isolate's 128 MB. Every R2 writer of the isolate counts its
// part buffers in one budget: past it, writers send one part at a time, and a new publish is
// turned away with 503 and Retry-After until there is room again.

const MiB = 1024 * 1024;

function writer(prefix: string, i: number): BlobWriter {
	return new BlobWriter(env.BLOBS, { key: () => `${prefix}/${i}.bin` });
}

describe("the isolate's publish memory", () => {
	it("#22.4 keeps concurrent writers to one part each once their buffers reach the budget", async () => {
		const prefix = `budget-${uniqueName()}`;
		const writers = Array.from({ length: 14 }, (_, i) => writer(prefix, i));
		const chunk = new Uint8Array(MiB).fill(7);
		let most = 0;
		await Promise.all(
			writers.map(async (w) => {
				for (let i = 0; i < 11; i++) {
					await w.write(chunk);
					most = Math.max(most, partBytesHeld());
				}
				await w.close();
			}),
		);
		// Fourteen writers hold fourteen parts past the budget (without it: two each, 140 MiB).
		expect(PART_BUDGET_BYTES).toBeLessThan(14 * PART_BYTES);
		expect(most).toBeLessThanOrEqual(14 * PART_BYTES);
		expect(partBytesHeld()).toBe(0);
		const stored = (await env.BLOBS.list({ prefix })).objects;
		expect(stored.map((o) => o.size)).toEqual(Array(14).fill(11 * MiB));
	});

	it("#22.4 turns a publish away with 503 and Retry-After while the budget is taken, and takes it once there is room", async () => {
		const prefix = `budget-${uniqueName()}`;
		// Writers that each hold a whole part, not yet sent: the budget, taken.
		const holders = Array.from({ length: PART_BUDGET_BYTES / PART_BYTES + 1 }, (_, i) => writer(prefix, i));
		for (const w of holders) await w.write(new Uint8Array(PART_BYTES - 1));
		expect(partBytesHeld()).toBeGreaterThanOrEqual(PART_BUDGET_BYTES);
		const name = uniqueName("budget-pkg");
		const put = async () => {
			const { body } = await publishBody(name, "1.0.0");
			return router.fetch(
				new Request(`http://registry.test/${name}`, {
					method: "PUT",
					headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
					body: JSON.stringify(body),
				}),
				env,
				createExecutionContext(),
			);
		};
		try {
			const refused = await put();
			expect(refused.status).toBe(503);
			expect(refused.headers.get("retry-after")).toBe("5");
			expect(((await refused.json()) as { code: string }).code).toBe("unavailable");
		} finally {
			await Promise.all(holders.map((w) => w.abort()));
		}
		expect(partBytesHeld()).toBe(0);
		expect((await put()).status).toBe(201);
		expect((await env.BLOBS.list({ prefix })).objects).toEqual([]);
	});
});
