import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
	BlobWriter,
	PART_BUDGET_BYTES,
	PART_BYTES,
	partBytesHeld,
	partBytesPooled,
} from "../durable-objects/blob-writer";
import { LARGE_PUBLISHES, largePublishesRunning } from "../worker/publishing/admission";
import { BodyReader } from "../worker/publishing/body-reader";
import { router } from "../worker/router";
import { ADMIN, publishBody, uniqueName } from "./helpers/registry";

// #22.4: concurrent publishes share the isolate's 128 MB. An isolate takes three large publishes at
// once (a fourth is answered 503 with Retry-After), and every R2 writer counts its part buffers in
// one budget: past it, writers send one part at a time. A writer's buffers go to the next writer.

const MiB = 1024 * 1024;

function writer(prefix: string, i: number): BlobWriter {
	return new BlobWriter(env.BLOBS, { key: () => `${prefix}/${i}.bin` });
}

describe("the isolate's publish memory", () => {
	// 154 MiB through local R2: give it time on a loaded machine (the assertions are about memory, not speed).
	it("#22.4 keeps concurrent writers to one part each once their buffers reach the budget", async () => {
		const prefix = `budget-${uniqueName()}`;
		const writers = Array.from({ length: 14 }, (_, i) => writer(prefix, i));
		const chunk = new Uint8Array(MiB).fill(7);
		let most = 0;
		let mostPooled = 0;
		await Promise.all(
			writers.map(async (w) => {
				for (let i = 0; i < 11; i++) {
					await w.write(chunk);
					most = Math.max(most, partBytesHeld());
					mostPooled = Math.max(mostPooled, partBytesPooled());
				}
				await w.close();
				mostPooled = Math.max(mostPooled, partBytesPooled());
			}),
		);
		// Fourteen writers hold fourteen parts, being past the budget (without it: two each, 140 MiB).
		expect(PART_BUDGET_BYTES).toBeLessThan(14 * PART_BYTES);
		expect(most).toBeLessThanOrEqual(14 * PART_BYTES);
		expect(mostPooled).toBeLessThanOrEqual(PART_BUDGET_BYTES);
		expect(partBytesHeld()).toBe(0);
		expect(partBytesPooled()).toBe(0);
		const stored = (await env.BLOBS.list({ prefix })).objects;
		expect(stored.map((o) => o.size)).toEqual(Array(14).fill(11 * MiB));
	}, 60_000);

	it("#22.4 hands a finished writer's whole parts to the next writer, and keeps none once no writer is left", async () => {
		const prefix = `pool-${uniqueName()}`;
		const chunk = new Uint8Array(MiB).fill(3);
		// One writer stays open throughout, so the pool is not emptied between the others.
		const open = writer(prefix, 0);
		await open.write(chunk);
		const first = writer(prefix, 1);
		for (let i = 0; i < 6; i++) await first.write(chunk);
		const heldWhileWriting = partBytesHeld();
		await first.close();
		// 6 MiB: one part sent and the next begun, in two whole buffers (the open writer's 1 MiB is
		// still growing); both wait for the next writer.
		expect(heldWhileWriting).toBe(2 * PART_BYTES + MiB);
		expect(partBytesPooled()).toBe(2 * PART_BYTES);
		// The next large writer takes a pooled part instead of growing a new one.
		const next = writer(prefix, 2);
		for (let i = 0; i < 2; i++) await next.write(chunk);
		expect(partBytesPooled()).toBe(PART_BYTES);
		await next.abort();
		await open.close();
		expect(partBytesHeld()).toBe(0);
		expect(partBytesPooled()).toBe(0);
		// What the pooled buffers carried never leaks into another object: each holds its own bytes.
		const kept = await env.BLOBS.get(`${prefix}/1.bin`);
		const bytes = new Uint8Array(await (kept as R2ObjectBody).arrayBuffer());
		expect(bytes.byteLength).toBe(6 * MiB);
		expect(bytes.every((b) => b === 3)).toBe(true);
		expect(await env.BLOBS.head(`${prefix}/2.bin`)).toBeNull();
	});

	it("#22.4 gives an aborted writer's budget back at once, and its buffers to the next writer only once its part in flight has arrived", async () => {
		const prefix = `abort-${uniqueName()}`;
		const chunk = new Uint8Array(MiB).fill(5);
		const open = writer(prefix, 0);
		await open.write(chunk);
		const aborted = writer(prefix, 1);
		for (let i = 0; i < 6; i++) await aborted.write(chunk);
		expect(partBytesHeld()).toBe(2 * PART_BYTES + MiB);
		const aborting = aborted.abort();
		// Whatever the cleanup meets (a client gone, R2 slow), the isolate's budget is free again.
		expect(partBytesHeld()).toBe(MiB);
		// The part sent last may still be read from its buffer: nobody else may fill it yet.
		expect(partBytesPooled()).toBe(0);
		await aborting;
		expect(partBytesPooled()).toBe(2 * PART_BYTES);
		await open.close();
		expect(partBytesPooled()).toBe(0);
		expect(await env.BLOBS.head(`${prefix}/1.bin`)).toBeNull();
	});

	it("#22.4 takes three large publishes at once, turns a fourth away with 503 and Retry-After, and takes it once one ends", async () => {
		const name = uniqueName("budget-pkg");
		const { body } = await publishBody(name, "1.0.0");
		const text = JSON.stringify(body);
		/** A PUT whose body comes as a stream (no Content-Length: it may be large). */
		const put = (stream: ReadableStream<Uint8Array>) =>
			router.fetch(
				new Request(`http://registry.test/${name}`, {
					method: "PUT",
					headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
					body: stream,
				}),
				env,
				createExecutionContext(),
			);
		const whole = () => new Blob([text]).stream();
		// Four publishes whose bodies begin and then wait: they hold their turns.
		const holders: ReadableStreamDefaultController<Uint8Array>[] = [];
		const held = Array.from({ length: LARGE_PUBLISHES }, () =>
			put(
				new ReadableStream<Uint8Array>({
					start(controller) {
						holders.push(controller);
						controller.enqueue(new TextEncoder().encode(text.slice(0, 40)));
					},
				}),
			),
		);
		for (let i = 0; i < 200 && largePublishesRunning() < LARGE_PUBLISHES; i++) await scheduler.wait(10);
		expect(largePublishesRunning()).toBe(LARGE_PUBLISHES);

		const refused = await put(whole());
		expect(refused.status).toBe(503);
		expect(refused.headers.get("retry-after")).toBe("5");
		expect(((await refused.json()) as { code: string }).code).toBe("unavailable");

		// The held publishes' clients go away (the runtime's error for a connection closed under a
		// body, #22.13): quiet 400s, and their turns go back.
		for (const controller of holders) controller.error(new Error("Network connection lost."));
		for (const res of await Promise.all(held)) expect(res.status).toBe(400);
		expect(largePublishesRunning()).toBe(0);
		expect((await put(whole())).status).toBe(201);
	});

	it("#22.4 reads a request's body into one buffer again and again, and a stream made in JavaScript as it comes", async () => {
		const sent = new Uint8Array(300 * 1024).map((_, i) => i % 251);
		const readAll = async (reader: BodyReader) => {
			const pieces: Uint8Array[] = [];
			let previous: Uint8Array | null = null;
			let reused = 0;
			for (let piece = await reader.read(); piece !== null; piece = await reader.read()) {
				// The previous piece's buffer went into this read: it is empty now, nothing was left behind.
				if (previous !== null && previous.byteLength === 0) reused += 1;
				pieces.push(piece.slice());
				previous = piece;
			}
			return { bytes: new Uint8Array(await new Blob(pieces).arrayBuffer()), reads: pieces.length, reused };
		};
		const request = new Request("http://registry.test/x", { method: "PUT", body: sent });
		const fromRequest = await readAll(new BodyReader(request.body as ReadableStream<Uint8Array>));
		expect(fromRequest.bytes).toEqual(sent);
		expect(fromRequest.reads).toBeGreaterThan(1);
		expect(fromRequest.reused).toBe(fromRequest.reads - 1);

		const made = new ReadableStream<Uint8Array>({
			start(controller) {
				for (let at = 0; at < sent.byteLength; at += 10_000) controller.enqueue(sent.slice(at, at + 10_000));
				controller.close();
			},
		});
		const fromStream = await readAll(new BodyReader(made));
		expect(fromStream.bytes).toEqual(sent);
		expect(fromStream.reused).toBe(0);
	});
});
