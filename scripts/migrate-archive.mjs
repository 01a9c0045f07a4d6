// Export a registry into an archive file, and restore an archive into a registry (issue #18).
// scripts/migrate.mjs dispatches `--to-archive` and `--from-archive` here; run on its own:
//
//   node scripts/migrate-archive.mjs --from <URL> --from-token <admin token> --to-archive <file> [--scope @s]... [--backup <id>]
//   node scripts/migrate-archive.mjs --from-archive <file> --to <URL> --to-token <admin token>
//
// The archive is a tar file (format 1, ARCHITECTURE.md "Export, restore and backups"):
//   archive.json          { format, createdAt, from, scopes, backup }
//   items/000001.json …   the export API's items in order: the auth store's pages, the hooks' pages, then per package
//                         its head, then its rows (the last page holds the package row)
//   blobs/<R2 key>        the bytes a head names, written after the head and before its rows
// Both directions stream: an export writes each item and each blob as it arrives, a restore reads
// one entry at a time, so neither holds more than one page of rows in memory, whatever the size.

import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createTarDecoder, createTarPacker } from "modern-tar";

export const ARCHIVE_FORMAT = 1;
const RETRIES = 3;

/**
 * Writes the registry at `from` (or one backup of it) into `file`.
 * @param {{ from: string, fromToken: string, file: string, scopes?: string[], backup?: string,
 *   onProgress?: (p: { packages: number, versions: number, bytes: number, totalPackages?: number, totalVersions?: number }) => void }} options
 * @returns {Promise<{ copied: number, present: number, failed: { name: string, version?: string, reason: string }[] }>}
 */
export async function exportToArchive({ from, fromToken, file, scopes = [], backup, onProgress = () => {} }) {
	const base = from.replace(/\/+$/, "");
	const { readable, controller } = createTarPacker();
	const out = createWriteStream(file);
	const written = Readable.fromWeb(readable).pipe(out);
	const finished = once(written, "finish");
	const failed = [];
	let copied = 0;
	let seq = 0;
	const add = async (name, bytes) => {
		const writer = controller.add({ name, size: bytes.byteLength, type: "file" }).getWriter();
		await writer.write(bytes);
		await writer.close();
	};
	const addJson = (name, value) => add(name, new TextEncoder().encode(JSON.stringify(value)));
	await addJson("archive.json", {
		format: ARCHIVE_FORMAT,
		createdAt: new Date().toISOString(),
		from: base,
		scopes,
		backup: backup ?? null,
	});
	const blobsWritten = new Set();
	/** The kinds of item that come whole with every scope's export, once taken in full. */
	const wholeDone = new Set();
	// How much there is, for the progress bar's time left: a backup's manifest says; a live export's
	// first page says what the registry's index knows.
	const totals = { totalPackages: 0, totalVersions: 0 };
	if (backup) {
		const listed = await (await request(`${base}/-/admin/backups`, { token: fromToken })).json();
		const found = listed.backups?.find((b) => b.id === backup);
		if (found)
			onProgress({ packages: 0, versions: 0, bytes: 0, totalPackages: found.packages, totalVersions: found.versions });
	}
	for (const scope of scopes.length > 0 ? scopes : [null]) {
		let cursor = null;
		let first = true;
		while (first || cursor !== null) {
			first = false;
			const query = new URLSearchParams();
			if (cursor !== null) query.set("cursor", cursor);
			else if (scope !== null) query.set("scope", scope);
			const path = backup ? `/-/admin/backups/${encodeURIComponent(backup)}/export` : "/-/admin/export";
			const page = await (await request(`${base}${path}?${query}`, { token: fromToken })).json();
			if (page.format > ARCHIVE_FORMAT) throw new Error(`the registry exports format ${page.format}; update this tool`);
			if (page.totals) {
				totals.totalPackages += page.totals.packages;
				totals.totalVersions += page.totals.versions;
				onProgress({ packages: 0, versions: 0, bytes: 0, ...totals });
			}
			for (const item of page.items) {
				// With several scopes the auth store and the hooks come with each; the archive takes them once.
				if (wholeDone.has(item.kind)) continue;
				if ((item.kind === "auth" || item.kind === "hooks") && item.final) wholeDone.add(item.kind);
				seq += 1;
				await addJson(`items/${String(seq).padStart(6, "0")}.json`, item);
				if (item.kind === "package") {
					onProgress({ packages: 1, versions: 0, bytes: 0 });
					const blobPath = backup ? `/-/admin/backups/${encodeURIComponent(backup)}/blob` : "/-/admin/export/blob";
					const keys = item.versions.flatMap((v) => [v.tarballKey, v.filesKey]).filter((k) => !blobsWritten.has(k));
					const broken = new Set();
					// Fetched a few ahead of the one being written (small ones whole, large ones as streams),
					// written in order.
					for await (const { key, blob, error } of prefetched(keys, (key) =>
						fetchBlob(`${base}${blobPath}?key=${encodeURIComponent(key)}`, fromToken),
					)) {
						if (error) {
							broken.add(key);
							const version = item.versions.find((v) => v.tarballKey === key || v.filesKey === key);
							failed.push({ name: item.name, version: version?.version, reason: `bytes of ${key}: ${error.message}` });
							continue;
						}
						const entry = controller.add({ name: `blobs/${key}`, size: blob.size, type: "file" });
						if (blob.bytes) {
							const writer = entry.getWriter();
							await writer.write(blob.bytes);
							await writer.close();
						} else {
							await (await blob.again()).body.pipeTo(entry);
						}
						blobsWritten.add(key);
						onProgress({ packages: 0, versions: 0, bytes: blob.size });
					}
					for (const version of item.versions) {
						if (broken.has(version.tarballKey) || broken.has(version.filesKey)) continue;
						copied += 1;
						onProgress({ packages: 0, versions: 1, bytes: 0 });
					}
				}
			}
			cursor = page.next;
		}
	}
	controller.finalize();
	await finished;
	return { copied, present: 0, failed };
}

/**
 * Restores `file` into the registry at `to`: packages that are not there are restored (bytes, then
 * rows), identical ones are present, ones there with other bytes are failed as conflicts.
 * @param {{ file: string, to: string, toToken: string,
 *   onProgress?: (p: { packages: number, versions: number, bytes: number, totalPackages?: number, totalVersions?: number }) => void }} options
 * @returns {Promise<{ copied: number, present: number, failed: { name: string, version?: string, reason: string }[] }>}
 */
export async function restoreFromArchive({ file, to, toToken, onProgress = () => {} }) {
	const base = to.replace(/\/+$/, "");
	const failed = [];
	let copied = 0;
	let present = 0;
	/** The package being restored: its head, and whether its remaining entries are skipped. */
	let current = null;
	/** Uploads of small blobs under way (read whole, sent a few at a time while the archive reads on). */
	const uploads = new Set();
	const upload = (pkg, key, body, size) => {
		const version = pkg.head.versions.find((v) => v.tarballKey === key);
		const query = new URLSearchParams({ key, ...(version ? { sha1: version.shasum } : {}) });
		const sent = request(`${base}/-/admin/restore/blob?${query}`, {
			token: toToken,
			method: "PUT",
			body,
			size,
			// Bytes held whole can be sent again; a stream only once.
			retries: body instanceof Uint8Array ? RETRIES : 1,
		})
			.then(
				() => onProgress({ packages: 0, versions: 0, bytes: size }),
				(error) => {
					pkg.skip = true;
					failed.push({ name: pkg.head.name, version: version?.version, reason: `bytes of ${key}: ${error.message}` });
				},
			)
			.finally(() => uploads.delete(sent));
		uploads.add(sent);
		return sent;
	};
	const { totalPackages, totalVersions } = await archiveTotals(file);
	onProgress({ packages: 0, versions: 0, bytes: 0, totalPackages, totalVersions });
	const entries = Readable.toWeb(createReadStream(file)).pipeThrough(createTarDecoder());
	for await (const entry of entries) {
		const name = entry.header.name;
		if (name === "archive.json" || name.startsWith("items/")) {
			// Every byte of a package is here before its rows (or the next package) are sent.
			await Promise.all(uploads);
			const item = JSON.parse(await new Response(entry.body).text());
			if (name === "archive.json") {
				if (item.format > ARCHIVE_FORMAT) throw new Error(`archive format ${item.format} is newer than this tool`);
				continue;
			}
			if (item.kind === "auth" || item.kind === "hooks") {
				await post(base, toToken, item);
				continue;
			}
			if (item.kind === "package") {
				current = { head: item, skip: false };
				onProgress({ packages: 1, versions: 0, bytes: 0 });
				try {
					const verdict = await post(base, toToken, item);
					if (verdict.state === "present") {
						current.skip = true;
						present += item.versions.length;
						onProgress({ packages: 0, versions: item.versions.length, bytes: 0 });
					} else if (verdict.state === "conflict") {
						current.skip = true;
						for (const c of verdict.conflicts)
							failed.push({ name: item.name, version: c.version, reason: conflictReason(c) });
						onProgress({ packages: 0, versions: item.versions.length, bytes: 0 });
					} else if (verdict.state === "merge") {
						// Here already: only the versions it lacks come, with their bytes; the rest is as it is.
						current.copy = new Set(verdict.copy);
						for (const c of verdict.conflicts)
							failed.push({ name: item.name, version: c.version, reason: conflictReason(c) });
						const settled = item.versions.length - verdict.copy.length;
						present += settled - verdict.conflicts.length;
						onProgress({ packages: 0, versions: settled, bytes: 0 });
					}
				} catch (error) {
					current.skip = true;
					failed.push({ name: item.name, reason: error.message });
				}
				continue;
			}
			if (current === null || current.skip || current.head.name !== item.name) continue;
			try {
				await post(base, toToken, item);
				if (item.final) {
					const count = current.copy ? current.copy.size : current.head.versions.length;
					copied += count;
					onProgress({ packages: 0, versions: count, bytes: 0 });
					current = null;
				}
			} catch (error) {
				current.skip = true;
				failed.push({ name: item.name, reason: error.message });
			}
			continue;
		}
		const key = name.slice("blobs/".length);
		if (name.startsWith("blobs/") && current !== null && !current.skip && wanted(current, key)) {
			const size = entry.header.size;
			if (size <= WHOLE) {
				upload(current, key, new Uint8Array(await new Response(entry.body).arrayBuffer()), size);
				if (uploads.size >= AHEAD) await Promise.race(uploads);
			} else {
				await Promise.all(uploads);
				await upload(current, key, entry.body, size);
			}
			continue;
		}
		await entry.body.cancel();
	}
	await Promise.all(uploads);
	return { copied, present, failed };
}

/**
 * The packages and versions an archive holds, from its heads: a first pass over the file that
 * skips the bytes, so the progress bar can say how long is left.
 */
export async function archiveTotals(file) {
	let totalPackages = 0;
	let totalVersions = 0;
	const entries = Readable.toWeb(createReadStream(file)).pipeThrough(createTarDecoder());
	for await (const entry of entries) {
		if (!entry.header.name.startsWith("items/")) {
			await entry.body.cancel();
			continue;
		}
		const item = JSON.parse(await new Response(entry.body).text());
		if (item.kind !== "package") continue;
		totalPackages += 1;
		totalVersions += item.versions.length;
	}
	return { totalPackages, totalVersions };
}

/** Whether a restore sends these bytes: all of a package restored whole, those of the versions a merge copies. */
function wanted(pkg, key) {
	if (!pkg.copy) return true;
	return pkg.head.versions.some((v) => pkg.copy.has(v.version) && (v.tarballKey === key || v.filesKey === key));
}

/** A conflict as the report says it, with what to do. */
function conflictReason(c) {
	return c.reason === "different bytes here"
		? "conflict: this registry has this version with other bytes (left as it is)"
		: `conflict: ${c.reason}`;
}

/** Bytes up to this size are fetched whole ahead of their turn; larger ones stream when it comes. */
const WHOLE = 8 * 1024 * 1024;
const AHEAD = 6;

async function fetchBlob(url, token) {
	const res = await request(url, { token });
	const size = Number(res.headers.get("content-length"));
	if (!Number.isSafeInteger(size)) throw new Error("the registry sent no Content-Length");
	if (size > WHOLE) {
		// Not held open while others are written (the server may give up on an idle stream):
		// asked for again when its turn comes.
		await res.body?.cancel();
		return { size, again: () => request(url, { token }) };
	}
	const bytes = new Uint8Array(await res.arrayBuffer());
	if (bytes.byteLength !== size) throw new Error(`expected ${size} bytes, got ${bytes.byteLength}`);
	return { size, bytes };
}

/** `fetch(key)` for each key, up to AHEAD at once, yielded in the keys' order. */
async function* prefetched(keys, fetch) {
	const started = [];
	const start = (key) =>
		fetch(key).then(
			(blob) => ({ key, blob }),
			(error) => ({ key, error }),
		);
	for (const key of keys.slice(0, AHEAD)) started.push(start(key));
	for (let i = 0; i < keys.length; i += 1) {
		const next = keys[i + AHEAD];
		const result = await started[i];
		started[i] = undefined;
		yield result;
		if (next !== undefined) started.push(start(next));
	}
}

async function post(base, token, item) {
	const res = await request(`${base}/-/admin/restore`, { token, method: "POST", json: item });
	return res.json();
}

/** A request that retries network failures and 5xx answers a bounded number of times; other failures throw. */
async function request(url, { token, method = "GET", json, body, size, retries = RETRIES }) {
	let lastError = null;
	for (let attempt = 0; attempt < retries; attempt += 1) {
		try {
			const headers = { authorization: `Bearer ${token}` };
			if (json !== undefined) headers["content-type"] = "application/json";
			if (size !== undefined) headers["content-length"] = String(size);
			const res = await fetch(url, {
				method,
				headers,
				body: json !== undefined ? JSON.stringify(json) : body,
				...(body ? { duplex: "half" } : {}),
			});
			if (res.ok) return res;
			const text = await res.text();
			let message = text;
			try {
				message = JSON.parse(text).error ?? text;
			} catch {
				// Not JSON: the text itself says what went wrong.
			}
			lastError = new Error(`${res.status} ${message}`);
			if (res.status < 500) break;
		} catch (error) {
			lastError = error;
		}
		if (attempt + 1 < retries) await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
	}
	throw lastError;
}

async function main() {
	const { values } = parseArgs({
		options: {
			from: { type: "string" },
			"from-token": { type: "string" },
			to: { type: "string" },
			"to-token": { type: "string" },
			"to-archive": { type: "string" },
			"from-archive": { type: "string" },
			scope: { type: "string", multiple: true },
			backup: { type: "string" },
		},
	});
	const totals = { packages: 0, versions: 0, bytes: 0 };
	const onProgress = (p) => {
		totals.packages += p.packages;
		totals.versions += p.versions;
		totals.bytes += p.bytes;
	};
	const started = Date.now();
	let result;
	if (values["to-archive"] && values.from) {
		result = await exportToArchive({
			from: values.from,
			fromToken: values["from-token"] ?? "",
			file: values["to-archive"],
			scopes: values.scope ?? [],
			backup: values.backup,
			onProgress,
		});
	} else if (values["from-archive"] && values.to) {
		result = await restoreFromArchive({
			file: values["from-archive"],
			to: values.to,
			toToken: values["to-token"] ?? "",
			onProgress,
		});
	} else {
		console.error(
			"usage: migrate-archive --from <URL> --from-token <token> --to-archive <file> [--scope @s]... [--backup <id>]\n" +
				"       migrate-archive --from-archive <file> --to <URL> --to-token <token>",
		);
		process.exit(2);
	}
	const seconds = ((Date.now() - started) / 1000).toFixed(1);
	console.log(
		`${totals.packages} packages, ${totals.versions} versions, ${(totals.bytes / 1e6).toFixed(1)} MB in ${seconds} s: ` +
			`${result.copied} copied, ${result.present} already present, ${result.failed.length} failed`,
	);
	for (const f of result.failed) console.log(`failed: ${f.name}${f.version ? `@${f.version}` : ""}: ${f.reason}`);
	process.exit(result.failed.length > 0 ? 1 : 0);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
	main().catch((error) => {
		console.error(error.message);
		process.exit(1);
	});
}
