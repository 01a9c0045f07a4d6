import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DEFAULTS } from "../schema/config";
import { call, type Packument, uniqueName } from "./helpers/registry";
import { ageCopies, backgroundSettled, packageObject, publishUpstream } from "./helpers/upstream";

// Upstream copies larger than a joined packument may be (2 M characters, #25): a client's read of
// one is streamed from the object's chunks, the base URL put in on the way, so neither the object
// nor the Worker holds the whole text per request (the read tier keeps nothing that large); a
// revalidation costs no chunk read, a HEAD no stream, and a refresh waits for the streams of the
// copy it replaces.

const MAX_AGE = DEFAULTS.upstreamMaxAgeSeconds * 1000;
const fresh = { "cache-control": "no-cache" };

/** An upstream package whose full packument is about 3 MB: four versions of 750 KB of description. */
async function largeUpstream(prefix: string) {
	const name = uniqueName(prefix);
	for (let i = 0; i < 4; i++) {
		await publishUpstream(name, `1.0.${i}`, { manifest: { description: `${i} ${"d".repeat(750_000)}` } });
	}
	return name;
}

describe("an upstream copy too large to join", () => {
	it("#25 is streamed to a client, the same bytes as the copy answered whole; 304 on its ETag, a HEAD's headers", async () => {
		const name = await largeUpstream("up-large");
		// The first read answers upstream's document as fetched, before it is stored: whole.
		const first = await call(`/${name}`);
		expect(first.status).toBe(200);
		expect(first.headers.get("x-registry-upstream")).toBe("miss");
		const whole = await first.text();
		expect(whole.length).toBeGreaterThan(3_000_000);
		const doc = JSON.parse(whole) as Packument;
		expect(Object.keys(doc.versions)).toEqual(["1.0.0", "1.0.1", "1.0.2", "1.0.3"]);
		expect(doc.versions["1.0.3"]?.dist.tarball).toBe(`http://registry.test/${name}/-/${name}-1.0.3.tgz`);

		// From the stored copy: streamed (no length), the base URL in place across chunk boundaries.
		for (const headers of [{}, fresh]) {
			const streamed = await call(`/${name}`, { headers });
			expect(streamed.status).toBe(200);
			expect(streamed.headers.get("x-registry-upstream")).toBe("hit");
			expect(streamed.headers.get("content-length")).toBeNull();
			expect(streamed.headers.get("etag")).toBe(first.headers.get("etag"));
			expect(await streamed.text()).toBe(whole);
		}

		// Chunks cut in the middle of each placeholder (as any cut may fall): the stream holds the
		// start back until the next chunk completes it.
		const cuts = await runInDurableObject(packageObject(name), (_instance, state) => {
			const sql = state.storage.sql;
			const { placeholder } = sql
				.exec<{ placeholder: string }>(`SELECT placeholder FROM upstream_documents WHERE form = 'full'`)
				.one();
			const text = sql
				.exec<{ body: string }>(`SELECT body FROM upstream_document_chunks WHERE form = 'full' ORDER BY seq`)
				.toArray()
				.map((chunk) => chunk.body)
				.join("");
			const at = [0];
			for (let i = text.indexOf(placeholder); i !== -1; i = text.indexOf(placeholder, i + 1)) at.push(i + 5);
			sql.exec(`DELETE FROM upstream_document_chunks WHERE form = 'full'`);
			at.forEach((start, seq) => {
				const body = text.slice(start, at[seq + 1] ?? text.length);
				sql.exec(`INSERT INTO upstream_document_chunks (form, seq, body) VALUES ('full', ?, ?)`, seq, body);
			});
			return at.length - 1;
		});
		expect(cuts).toBe(4);
		expect(await (await call(`/${name}`, { headers: fresh })).text()).toBe(whole);

		const etag = first.headers.get("etag") ?? "";
		const again = await call(`/${name}`, { headers: { "if-none-match": etag } });
		expect(again.status).toBe(304);
		expect(await again.text()).toBe("");
		const head = await call(`/${name}`, { method: "HEAD" });
		expect(head.status).toBe(200);
		expect(head.headers.get("etag")).toBe(etag);
		expect(await head.text()).toBe("");
	});

	it("#25 is replaced by a refresh only once the streams reading it are read: never two copies in one answer", async () => {
		const name = await largeUpstream("up-large-refresh");
		await (await call(`/${name}`)).text();
		const open = await call(`/${name}`, { headers: fresh });
		expect(open.headers.get("content-length")).toBeNull();
		const reader = (open.body as ReadableStream<Uint8Array>).getReader();
		const chunks: Uint8Array[] = [];
		const firstChunk = await reader.read();
		if (firstChunk.done) throw new Error("expected bytes");
		chunks.push(firstChunk.value);

		// Upstream publishes; the copy goes stale, and the next read starts a refresh in the background.
		await publishUpstream(name, "1.1.0");
		await ageCopies(name, MAX_AGE + 1000);
		const stale = await call(`/${name}`, { headers: fresh });
		expect(stale.headers.get("x-registry-upstream")).toBe("stale");
		await stale.text();

		for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
		const read = JSON.parse(await new Blob(chunks).text()) as Packument;
		expect(Object.keys(read.versions)).toEqual(["1.0.0", "1.0.1", "1.0.2", "1.0.3"]);

		await backgroundSettled(name);
		const refreshed = JSON.parse(await (await call(`/${name}`, { headers: fresh })).text()) as Packument;
		expect(Object.keys(refreshed.versions)).toEqual(["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.1.0"]);
	});
});
