import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { router } from "../worker/router";
import { ADMIN, call, publishBody, publisherFor, readPackument, uniqueName } from "./helpers/registry";
import { checksums, gzipBomb, gzipTar } from "./helpers/tarball";

// #14: publishes and uploads stream. The body is read as it arrives, the tarball goes to R2 in
// parts as it is decoded, and every refusal (however late it is discovered) leaves no object and
// no version behind. Large bodies go through the router with a larger MAX_BODY_SIZE.

const MB = 1024 * 1024;

function fetchWith(vars: Partial<Env>, path: string, init: RequestInit) {
	return router.fetch(new Request(`http://registry.test${path}`, init), { ...env, ...vars }, createExecutionContext());
}

/** Whether two byte arrays hold the same bytes (toEqual walks a typed array key by key: far too slow here). */
function sameBytes(a: Uint8Array, b: Uint8Array | undefined): boolean {
	if (!b || a.byteLength !== b.byteLength) return false;
	for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
	return true;
}

/** Incompressible bytes (getRandomValues fills at most 64 KB a call). */
function randomBytes(size: number): Uint8Array<ArrayBuffer> {
	const bytes = new Uint8Array(size);
	for (let offset = 0; offset < size; offset += 65_536) {
		crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65_536)));
	}
	return bytes;
}

/** A tarball holding `size` random bytes in blob.bin, with its package.json. */
async function largeTarball(name: string, version: string, size: number) {
	const blob = randomBytes(size);
	const tgz = await gzipTar({ "package.json": JSON.stringify({ name, version }), "blob.bin": blob });
	return { blob, tgz, sums: await checksums(tgz) };
}

/** Base64 of bytes, in pieces cut on 3-byte boundaries so they join into the whole text. */
function* base64Pieces(bytes: Uint8Array): Generator<string> {
	const step = 3 * 64 * 1024;
	for (let offset = 0; offset < bytes.byteLength; offset += step) {
		yield bytes.subarray(offset, offset + step).toBase64();
	}
}

type BodyParts = { document: Record<string, unknown>; attachment: string; tgz: Uint8Array; length?: number };

/** npm's publish body as text pieces, the document before (as npm sends it) or after the attachment. */
function* publishPieces(parts: BodyParts, order: "document first" | "attachment first"): Generator<string> {
	const members = Object.entries(parts.document).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
	const length = parts.length ?? parts.tgz.byteLength;
	if (order === "document first") yield `{${members.join(",")},`;
	else yield "{";
	yield `"_attachments":{${JSON.stringify(parts.attachment)}:{"content_type":"application/octet-stream","data":"`;
	yield* base64Pieces(parts.tgz);
	yield `","length":${length}}}`;
	yield order === "document first" ? "}" : `,${members.join(",")}}`;
}

/** A request body that streams text pieces in chunks of `chunkBytes`, counting what was pulled. */
function streamed(pieces: Iterable<string>, chunkBytes = 64 * 1024) {
	const encoder = new TextEncoder();
	const iterator = pieces[Symbol.iterator]();
	let current: Uint8Array = new Uint8Array();
	let at = 0;
	let pulled = 0;
	const body = new ReadableStream<Uint8Array>({
		pull(controller) {
			const chunk = new Uint8Array(chunkBytes);
			let filled = 0;
			while (filled < chunkBytes) {
				if (at === current.byteLength) {
					const next = iterator.next();
					if (next.done) break;
					current = encoder.encode(next.value);
					at = 0;
				}
				const n = Math.min(chunkBytes - filled, current.byteLength - at);
				chunk.set(current.subarray(at, at + n), filled);
				filled += n;
				at += n;
			}
			if (filled === 0) {
				controller.close();
				return;
			}
			pulled += filled;
			controller.enqueue(chunk.subarray(0, filled));
		},
	});
	return { body, pulled: () => pulled };
}

/** The document npm sends with a tarball (everything but `_attachments`). */
function documentFor(name: string, version: string, dist: { integrity: string; shasum: string }) {
	return {
		_id: name,
		name,
		"dist-tags": { latest: version },
		versions: { [version]: { name, version, _id: `${name}@${version}`, dist } },
		access: "public",
	};
}

async function put(name: string, token: string, body: BodyInit, vars: Partial<Env> = {}) {
	return fetchWith(vars, `/${name}`, {
		method: "PUT",
		headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
		body,
	});
}

/** Every R2 object of a package: tarballs and file bundles. */
async function storedKeys(name: string): Promise<string[]> {
	const lists = await Promise.all([`tarballs/${name}/`, `files/${name}/`].map((prefix) => env.BLOBS.list({ prefix })));
	return lists.flatMap((list) => list.objects.map((o) => o.key));
}

/** Nothing of a refused publish remains: no object, no version, no package. */
async function expectNothingStored(name: string): Promise<void> {
	expect(await storedKeys(name)).toEqual([]);
	expect((await call(`/${name}`, { token: ADMIN })).status).toBe(404);
}

async function errorOf(res: Response): Promise<{ status: number; error: string }> {
	return { status: res.status, error: ((await res.json()) as { error: string }).error };
}

describe("large publishes", () => {
	it("publishes a 30 MB package that installs with byte-exact integrity", async () => {
		const name = uniqueName("large");
		const token = await publisherFor(name);
		const { blob, tgz, sums } = await largeTarball(name, "1.0.0", 30 * MB);
		const { body } = streamed(
			publishPieces(
				{ document: documentFor(name, "1.0.0", sums), attachment: `${name}-1.0.0.tgz`, tgz },
				"document first",
			),
		);
		const res = await put(name, token, body, { MAX_BODY_SIZE: String(64 * MB) });
		expect(res.status).toBe(201);

		const doc = await readPackument(name, token);
		const dist = doc.versions["1.0.0"]?.dist;
		expect(dist).toMatchObject({ integrity: sums.integrity, shasum: sums.shasum, fileCount: 2 });
		expect(dist?.unpackedSize).toBe(blob.byteLength + JSON.stringify({ name, version: "1.0.0" }).length);
		const tarball = await call(`/${name}/-/${name}-1.0.0.tgz`, { token });
		const served = new Uint8Array(await tarball.arrayBuffer());
		expect(served.byteLength).toBe(tgz.byteLength);
		expect(await checksums(served)).toEqual(sums);
		// The file bundle was written as the tarball inflated: the big file reads back byte for byte.
		const file = await call(`/files/${name}@1.0.0/blob.bin`, { token });
		expect(file.status).toBe(200);
		expect(sameBytes(new Uint8Array(await file.arrayBuffer()), blob)).toBe(true);
		expect((await storedKeys(name)).length).toBe(2);
	});

	it("accepts the attachment before the document, and a body that arrives a few bytes at a time", async () => {
		const name = uniqueName("order");
		const token = await publisherFor(name);
		const { tgz, sums } = await largeTarball(name, "1.0.0", 6 * MB);
		const parts = { document: documentFor(name, "1.0.0", sums), attachment: `${name}-1.0.0.tgz`, tgz };
		const first = await put(name, token, streamed(publishPieces(parts, "attachment first")).body, {
			MAX_BODY_SIZE: String(16 * MB),
		});
		expect(first.status).toBe(201);
		const served = new Uint8Array(await (await call(`/${name}/-/${name}-1.0.0.tgz`, { token })).arrayBuffer());
		expect(await checksums(served)).toEqual(sums);

		// Every key, escape and base64 group cut across chunks of 7 bytes; `/` escaped as `\/`.
		const small = await publishBody(name, "1.0.1", { files: { "README.md": '# \u00e9t\u00e9 "quoted"\n' } });
		const text = JSON.stringify(small.body).replaceAll("/", "\\/");
		const second = await put(name, token, streamed([text], 7).body);
		expect(second.status).toBe(201);
		const doc = await readPackument(name, token);
		expect(doc.versions["1.0.1"]?.dist.integrity).toBe(small.sums.integrity);
		expect(doc.readme).toBe('# \u00e9t\u00e9 "quoted"\n');
	});
});

describe("refused while streaming, nothing stored", () => {
	it("refuses a body one byte over MAX_BODY_SIZE with 413 as soon as it is crossed, reading no further", async () => {
		const name = uniqueName("over");
		const token = await publisherFor(name);
		const limit = 12 * MB;
		const { tgz, sums } = await largeTarball(name, "1.0.0", 8 * MB);
		const pieces = [
			...publishPieces(
				{ document: documentFor(name, "1.0.0", sums), attachment: `${name}-1.0.0.tgz`, tgz },
				"document first",
			),
		];
		const size = new TextEncoder().encode(pieces.join("")).byteLength;
		expect(size).toBeLessThan(limit);
		// Valid JSON padded with whitespace to one byte over the limit, then a long tail that must not be read.
		const { body, pulled } = streamed([...pieces, " ".repeat(limit + 1 - size), ...Array(64).fill(" ".repeat(MB))]);
		const res = await put(name, token, body, { MAX_BODY_SIZE: String(limit) });
		// It says what the limit means for npm, which sends the tarball base64-encoded (#24.6).
		expect(await errorOf(res)).toEqual({
			status: 413,
			error: `request body is larger than the ${limit}-byte limit (MAX_BODY_SIZE); npm sends the tarball base64-encoded, so the largest tarball npm can publish is about 3/4 of it, 9.0 MiB`,
		});
		expect(pulled()).toBeLessThan(limit + 4 * MB);
		await expectNothingStored(name);

		// Exactly at the limit, the same body publishes.
		const exact = streamed([...pieces, " ".repeat(limit - size)]);
		expect((await put(name, token, exact.body, { MAX_BODY_SIZE: String(limit) })).status).toBe(201);
	});

	it("refuses a body that ends in the middle of the attachment", async () => {
		const name = uniqueName("cut");
		const token = await publisherFor(name);
		const { tgz, sums } = await largeTarball(name, "1.0.0", 8 * MB);
		const text = [
			...publishPieces(
				{ document: documentFor(name, "1.0.0", sums), attachment: `${name}-1.0.0.tgz`, tgz },
				"document first",
			),
		].join("");
		// Cut after more than one R2 part of the tarball has been written.
		const res = await put(name, token, streamed([text.slice(0, Math.floor(text.length * 0.9))]).body, {
			MAX_BODY_SIZE: String(16 * MB),
		});
		expect(await errorOf(res)).toEqual({ status: 400, error: "request body is not valid JSON" });
		await expectNothingStored(name);
	});

	it.each([
		["a character that is not base64", "!"],
		["padding in the middle", "="],
	])("refuses %s in the middle of the attachment", async (_label, bad) => {
		const name = uniqueName("base64");
		const token = await publisherFor(name);
		const { tgz, sums } = await largeTarball(name, "1.0.0", 8 * MB);
		const text = [
			...publishPieces(
				{ document: documentFor(name, "1.0.0", sums), attachment: `${name}-1.0.0.tgz`, tgz },
				"document first",
			),
		].join("");
		const at = Math.floor(text.length * 0.8) - (Math.floor(text.length * 0.8) % 4) + 1;
		const res = await put(name, token, streamed([`${text.slice(0, at)}${bad}${text.slice(at + 1)}`]).body, {
			MAX_BODY_SIZE: String(16 * MB),
		});
		expect(await errorOf(res)).toEqual({ status: 400, error: "the attachment data is not valid base64" });
		await expectNothingStored(name);
	});

	it.each(["document first", "attachment first"] as const)(
		"refuses a tarball whose hash does not match, found at the end of the stream (%s)",
		async (order) => {
			const name = uniqueName("mismatch");
			const token = await publisherFor(name);
			const { tgz, sums } = await largeTarball(name, "1.0.0", 7 * MB);
			const other = await checksums(await gzipTar({ "package.json": "{}" }));
			const document = documentFor(name, "1.0.0", { integrity: other.integrity, shasum: sums.shasum });
			const res = await put(
				name,
				token,
				streamed(publishPieces({ document, attachment: `${name}-1.0.0.tgz`, tgz }, order)).body,
				{
					MAX_BODY_SIZE: String(16 * MB),
				},
			);
			expect(await errorOf(res)).toEqual({
				status: 422,
				error: "the attachment does not match dist.integrity (sha512)",
			});
			await expectNothingStored(name);
		},
	);

	it("refuses an attachment whose length is not what the document says", async () => {
		const name = uniqueName("length");
		const token = await publisherFor(name);
		const { tgz, sums } = await largeTarball(name, "1.0.0", 6 * MB);
		const parts = {
			document: documentFor(name, "1.0.0", sums),
			attachment: `${name}-1.0.0.tgz`,
			tgz,
			length: tgz.byteLength + 1,
		};
		const res = await put(name, token, streamed(publishPieces(parts, "attachment first")).body, {
			MAX_BODY_SIZE: String(16 * MB),
		});
		expect(await errorOf(res)).toEqual({
			status: 422,
			error: `attachment length is ${tgz.byteLength}, the document says ${tgz.byteLength + 1}`,
		});
		await expectNothingStored(name);
	});

	it("refuses a document that will not publish before reading its tarball", async () => {
		const name = uniqueName("early");
		const token = await publisherFor(name);
		const { tgz, sums } = await largeTarball(name, "1.0.0", 6 * MB);
		const document = { ...documentFor(name, "1.0.0", sums), name: "someone-else" };
		const { body, pulled } = streamed([
			...publishPieces({ document, attachment: `${name}-1.0.0.tgz`, tgz }, "document first"),
		]);
		const res = await put(name, token, body, { MAX_BODY_SIZE: String(16 * MB) });
		expect(await errorOf(res)).toEqual({ status: 400, error: `the document is for "someone-else", not "${name}"` });
		expect(pulled()).toBeLessThan(4 * MB);
		await expectNothingStored(name);
	});

	it("refuses a document (all but the tarball) over its limit with 413", async () => {
		const name = uniqueName("document");
		const token = await publisherFor(name);
		const { body } = await publishBody(name, "1.0.0", { manifest: { description: "d".repeat(9 * MB) } });
		const res = await put(name, token, JSON.stringify(body), { MAX_BODY_SIZE: String(16 * MB) });
		expect(await errorOf(res)).toEqual({
			status: 413,
			error: `the document (all but the tarball) is larger than the ${8 * MB}-byte limit`,
		});
		await expectNothingStored(name);
	});

	it("stops a gzip bomb in a publish as soon as the unpacked limit is crossed", async () => {
		const name = uniqueName("bomb");
		const token = await publisherFor(name);
		// 64 MB of zeros in about 64 KB of gzip: four times the limit.
		const limit = 16 * MB;
		const tgz = await gzipBomb(JSON.stringify({ name, version: "1.0.0" }), 4 * limit);
		const sums = await checksums(tgz);
		const text = [
			...publishPieces(
				{ document: documentFor(name, "1.0.0", sums), attachment: `${name}-1.0.0.tgz`, tgz },
				"document first",
			),
		].join("");
		const res = await put(name, token, text, { MAX_UNPACKED_SIZE: String(limit) });
		expect(await errorOf(res)).toEqual({ status: 413, error: `tarball unpacks to more than ${limit} bytes` });
		await expectNothingStored(name);
	});
});

describe("uploads stream", () => {
	async function upload(name: string, token: string, body: BodyInit, vars: Partial<Env> = {}, query = "") {
		return fetchWith(vars, `/packages/${name}/upload${query}`, {
			method: "POST",
			headers: { authorization: `Bearer ${token}`, "content-type": "application/gzip" },
			body,
		});
	}

	it("uploads a 12 MB bundle whose files and npm tarball read back byte for byte", async () => {
		const name = uniqueName("upload");
		const token = await publisherFor(name);
		const blob = randomBytes(12 * MB);
		const bundle = await gzipTar(
			{ "index.js": "export default 1;\n", "assets/blob.bin": blob, "README.md": "# up\n" },
			"dist",
		);
		const res = await upload(
			name,
			token,
			new Blob([bundle]).stream(),
			{ MAX_BODY_SIZE: String(16 * MB) },
			"?version=2.0.0&access=public",
		);
		expect(res.status).toBe(201);
		expect(((await res.json()) as { version: string }).version).toBe("2.0.0");
		const file = await call(`/files/${name}@2.0.0/assets/blob.bin`, { token });
		expect(sameBytes(new Uint8Array(await file.arrayBuffer()), blob)).toBe(true);
		const doc = await readPackument(name, token);
		expect(doc.readme).toBe("# up\n");
		const dist = doc.versions["2.0.0"]?.dist;
		const tgz = new Uint8Array(await (await call(new URL(dist?.tarball ?? "").pathname, { token })).arrayBuffer());
		expect((await checksums(tgz)).integrity).toBe(dist?.integrity);
		const entries = new Map<string, Uint8Array>();
		const { createTarDecoder } = await import("modern-tar");
		for await (const entry of new Blob([tgz])
			.stream()
			.pipeThrough(new DecompressionStream("gzip"))
			.pipeThrough(createTarDecoder())) {
			entries.set(entry.header.name, new Uint8Array(await new Response(entry.body).arrayBuffer()));
		}
		expect([...entries.keys()]).toEqual([
			"package/package.json",
			"package/index.js",
			"package/assets/blob.bin",
			"package/README.md",
		]);
		expect(sameBytes(blob, entries.get("package/assets/blob.bin"))).toBe(true);
		expect(JSON.parse(new TextDecoder().decode(entries.get("package/package.json")))).toEqual({
			name,
			version: "2.0.0",
		});
	});

	it("refuses an upload over MAX_BODY_SIZE or cut short, leaving nothing", async () => {
		const name = uniqueName("upload");
		const token = await publisherFor(name);
		const bundle = await gzipTar({ "index.js": "1", "blob.bin": randomBytes(8 * MB) });
		const over = await upload(name, token, new Blob([bundle]).stream(), { MAX_BODY_SIZE: String(6 * MB) });
		expect(await errorOf(over)).toEqual({ status: 413, error: `request body is larger than the ${6 * MB}-byte limit` });
		const cut = await upload(name, token, new Blob([bundle.slice(0, 7 * MB)]).stream(), {
			MAX_BODY_SIZE: String(16 * MB),
		});
		expect(await errorOf(cut)).toEqual({ status: 422, error: "tarball is not a valid gzip-compressed tar archive" });
		await expectNothingStored(name);
	});
});
