// `npm run migrate`: copies packages from another registry (Verdaccio, npmjs, another instance of
// this registry) into this one through its admin import API, keeping every version, its publish
// time, its deprecation, all dist-tags, maintainers and the numbers the source unpublished.
//
//   npm run migrate -- --from <registry URL> [--from-token <t>] --to <URL> --to-token <admin token>
//                      [--package <name>]... [--scope @s]... [--all] [--access public|restricted]
//                      [--dry-run] [--concurrency N]

//   npm run migrate -- --from-archive <file> --to <URL> --to-token <admin token>
//   npm run migrate -- --from <URL> --from-token <admin token> --to-archive <file> [--scope @s]...
//
// For each package: the source's full packument, then for each version missing here (oldest
// first) its tarball, checked against the source's dist.integrity (sha512, else sha1) and
// dist.shasum before it is sent; the registry checks it again. Versions here already with the same
// integrity are skipped without downloading; one here with other bytes is a conflict, reported and
// left alone. Last, the package's dist-tags, created/modified, maintainers and unpublished numbers.
// Every step is idempotent, so an interrupted run finishes by running it again. Network failures
// and 5xx/429 answers are retried MIGRATE_RETRIES times (default 4) with backoff; each request
// has a timeout (MIGRATE_TIMEOUT_SECONDS, default 120). Ends with a summary; exits 1 when anything
// failed. The archive flags are dispatched to scripts/migrate-archive.mjs.

import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { exportToArchive, restoreFromArchive } from "./migrate-archive.mjs";

const RETRIES = Number(process.env.MIGRATE_RETRIES ?? 4);
const TIMEOUT_MS = Number(process.env.MIGRATE_TIMEOUT_SECONDS ?? 120) * 1000;

const USAGE = `usage:
  npm run migrate -- --from <registry URL> [--from-token <t>] --to <URL> --to-token <admin token>
                     [--package <name>]... [--scope @s]... [--all] [--access public|restricted]
                     [--dry-run] [--concurrency N]
  npm run migrate -- --from-archive <file> --to <URL> --to-token <admin token>
  npm run migrate -- --from <URL> --from-token <admin token> --to-archive <file> [--scope @s]...`;

/** Thrown for a bad command line: printed with the usage, exit 2. */
class UsageError extends Error {}

/** This registry refused the admin token: nothing can be copied, the run stops. */
class TokenRefused extends Error {}

function assertTokenTaken(status, text) {
	if (status === 401 || status === 403) {
		throw new TokenRefused(
			`this registry refused --to-token (${status} ${errorText(text)}): it must be an admin token`,
		);
	}
}

export function parseCommandLine(argv) {
	const { values } = parseArgs({
		args: argv,
		options: {
			from: { type: "string" },
			"from-token": { type: "string" },
			to: { type: "string" },
			"to-token": { type: "string" },
			package: { type: "string", multiple: true, default: [] },
			scope: { type: "string", multiple: true, default: [] },
			all: { type: "boolean", default: false },
			access: { type: "string" },
			"dry-run": { type: "boolean", default: false },
			concurrency: { type: "string", default: "4" },
			"to-archive": { type: "string" },
			"from-archive": { type: "string" },
			backup: { type: "string" },
			help: { type: "boolean", default: false },
		},
		strict: true,
	});
	const concurrency = Number(values.concurrency);
	if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
		throw new UsageError("--concurrency is a whole number from 1 to 64");
	}
	if (values.access !== undefined && !["public", "restricted"].includes(values.access)) {
		throw new UsageError("--access is public or restricted");
	}
	const scopes = values.scope.map((s) => (s.startsWith("@") ? s : `@${s}`));
	return { ...values, scopes, concurrency };
}

// ── HTTP with bounded retries ─────────────────────────────────────────────────────────────────

/** An answer that retrying will not change (4xx but 429), or the last failure after the retries. */
class RequestFailed extends Error {
	constructor(message, status = null) {
		super(message);
		this.status = status;
	}
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * fetch with a timeout per attempt and up to RETRIES more attempts on a network error, a
 * timeout, a 5xx or a 429 (after Retry-After when it says, else 0.5 s, 1 s, 2 s…). `read` turns
 * the response into the result inside the attempt, so a body cut off mid-way is retried too.
 */
export async function request(url, init, read, { retries = RETRIES, timeoutMs = TIMEOUT_MS } = {}) {
	let lastError = null;
	for (let attempt = 0; attempt <= retries; attempt++) {
		if (attempt > 0) await sleep(lastError?.retryAfterMs ?? 500 * 2 ** (attempt - 1));
		try {
			// A body given as a function is made again for each attempt (a stream is read once).
			const body = typeof init.body === "function" ? init.body() : init.body;
			const response = await fetch(url, {
				...init,
				body,
				...(body instanceof ReadableStream ? { duplex: "half" } : {}),
				signal: AbortSignal.timeout(timeoutMs),
			});
			if (response.status >= 500 || response.status === 429) {
				const text = await response.text().catch(() => "");
				lastError = new RequestFailed(`${response.status} ${errorText(text)}`.trim(), response.status);
				const after = Number(response.headers.get("retry-after"));
				if (after > 0) lastError.retryAfterMs = Math.min(after, 30) * 1000;
				continue;
			}
			return await read(response);
		} catch (error) {
			if (error instanceof RequestFailed) throw error;
			const cause = error?.cause?.code ?? error?.cause?.message ?? error?.message ?? String(error);
			lastError = new RequestFailed(error?.name === "TimeoutError" ? `no answer within ${timeoutMs / 1000} s` : cause);
		}
	}
	throw new RequestFailed(
		`${lastError?.message ?? "failed"} (after ${retries + 1} attempts)`,
		lastError?.status ?? null,
	);
}

function errorText(text) {
	try {
		const parsed = JSON.parse(text);
		return typeof parsed?.error === "string" ? parsed.error : text.slice(0, 200);
	} catch {
		return text.slice(0, 200);
	}
}

const authorization = (token) => (token ? { authorization: `Bearer ${token}` } : {});
const encodeName = (name) => name.replace("/", "%2f");
const trimSlash = (url) => url.replace(/\/+$/, "");

/** GET a JSON document; null on 404. */
function getJson(url, token, retry = {}) {
	return request(
		url,
		{ headers: { accept: "application/json", ...authorization(token) } },
		async (response) => {
			if (response.status === 404) return null;
			const text = await response.text();
			if (!response.ok) throw new RequestFailed(`${response.status} ${errorText(text)}`, response.status);
			try {
				return { body: JSON.parse(text), headers: response.headers };
			} catch {
				throw new RequestFailed("the answer is not JSON", response.status);
			}
		},
		retry,
	);
}

// ── discovery ─────────────────────────────────────────────────────────────────────────────────

/**
 * The packages of a scope, from every listing the source answers (their union: a search index
 * may lag, an org listing may need a token the search does not):
 * 1. `/-/v1/search?text=scope:{scope}` paged (npmjs, this registry);
 * 2. `/-/org/{scope}/package` (npmjs, this registry);
 * 3. `/-/verdaccio/data/packages` (Verdaccio's web API: every package the token may read).
 * `--all` takes every package of 3, and of 1 with an empty text where 3 is not answered.
 */
export async function discover(from, token, scopes, all, log) {
	const names = new Set();
	const tried = [];
	const keep = (name) => {
		if (typeof name !== "string") return;
		if (all || scopes.some((scope) => name.startsWith(`${scope}/`))) names.add(name);
	};
	/** Answers whether the source answered this listing. */
	const quietly = async (label, run) => {
		try {
			const found = await run();
			tried.push(`${label}: ${found} found`);
			return true;
		} catch (error) {
			tried.push(`${label}: ${error.message}`);
			return false;
		}
	};
	const listing = async () => {
		const answer = await getJson(`${from}/-/verdaccio/data/packages`, token);
		if (answer === null || !Array.isArray(answer.body)) throw new Error("not answered");
		for (const pkg of answer.body) keep(pkg?.name);
		return answer.body.length;
	};
	const search = async (text) => {
		let found = 0;
		for (let offset = 0; ; offset += 250) {
			const answer = await getJson(
				`${from}/-/v1/search?text=${encodeURIComponent(text)}&size=250&from=${offset}`,
				token,
			);
			const objects = answer?.body?.objects;
			if (!Array.isArray(objects)) throw new Error("not answered");
			for (const object of objects) keep(object?.package?.name);
			found += objects.length;
			const total = Number(answer.body.total ?? 0);
			if (objects.length === 0 || offset + objects.length >= total || offset >= 10_000) return found;
		}
	};
	const answered = new Set();
	for (const scope of scopes) {
		const bare = scope.slice(1);
		if (await quietly(`search scope:${bare}`, () => search(`scope:${bare}`))) answered.add(scope);
		const org = await quietly(`/-/org/${bare}/package`, async () => {
			const answer = await getJson(`${from}/-/org/${encodeURIComponent(bare)}/package`, token);
			if (answer === null || typeof answer.body !== "object") throw new Error("not answered");
			for (const name of Object.keys(answer.body)) keep(name);
			return Object.keys(answer.body).length;
		});
		if (org) answered.add(scope);
	}
	if ((scopes.length > 0 || all) && (await quietly("Verdaccio's package list", listing))) {
		for (const scope of scopes) answered.add(scope);
	}
	if (all && names.size === 0) await quietly("search (every package)", () => search(""));
	log(`discovery: ${tried.join("; ")}`);
	return { names: [...names].sort(), unlisted: scopes.filter((scope) => !answered.has(scope)) };
}

// ── checks ────────────────────────────────────────────────────────────────────────────────────

/** npm's two checksums of some bytes. */
export function checksumsOf(bytes) {
	return {
		integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
		shasum: createHash("sha1").update(bytes).digest("hex"),
	};
}

/**
 * Whether bytes match what the source declared: every sha512 in dist.integrity, else its sha1,
 * and dist.shasum. Answers the reason they do not, or null.
 */
export function integrityProblem(dist, actual) {
	const declared = String(dist?.integrity ?? "")
		.split(/\s+/)
		.filter(Boolean);
	const sha512 = declared.filter((h) => h.startsWith("sha512-"));
	const sha1 = declared
		.filter((h) => h.startsWith("sha1-"))
		.map((h) => Buffer.from(h.slice(5), "base64").toString("hex"));
	let checked = false;
	if (sha512.length > 0) {
		if (!sha512.includes(actual.integrity)) return "the tarball does not match dist.integrity (sha512)";
		checked = true;
	} else if (sha1.length > 0) {
		if (!sha1.includes(actual.shasum)) return "the tarball does not match dist.integrity (sha1)";
		checked = true;
	}
	if (typeof dist?.shasum === "string" && dist.shasum !== "") {
		if (dist.shasum.toLowerCase() !== actual.shasum) return "the tarball does not match dist.shasum";
		checked = true;
	}
	return checked ? null : "the source declares no integrity this tool can check (sha512, sha1)";
}

/** The same bytes, by what both sides say of them: sha512 when both name one, else sha1. */
function sameBytes(here, source) {
	const sha512 = String(source?.integrity ?? "")
		.split(/\s+/)
		.filter((h) => h.startsWith("sha512-"));
	if (sha512.length > 0 && here?.integrity) return sha512.includes(here.integrity);
	return typeof source?.shasum === "string" && source.shasum.toLowerCase() === here?.shasum;
}

/** The version numbers the source's `time` names that its `versions` does not: unpublished there. */
function unpublishedAtSource(packument) {
	const time = packument.time && typeof packument.time === "object" ? packument.time : {};
	return Object.keys(time).filter(
		(key) => !["created", "modified", "unpublished"].includes(key) && !(key in packument.versions),
	);
}

// ── one package ───────────────────────────────────────────────────────────────────────────────

/**
 * Copies one package. `report` hears every outcome: { kind: "copied" | "present" | "failed" |
 * "dry-run" | "skipped", name, version?, reason?, bytes? }.
 */
async function migratePackage(name, options, report, progress) {
	const { from, fromToken, to, toToken, dryRun } = options;
	const fail = (reason, version) => report({ kind: "failed", name, ...(version ? { version } : {}), reason });
	let source;
	try {
		source = await getJson(`${from}/${encodeName(name)}`, fromToken);
	} catch (error) {
		return fail(`the source's packument: ${error.message}`);
	}
	if (source === null) return fail("the source has no such package");
	const packument = source.body;
	// npmjs answers a package whose every version was unpublished with `time.unpublished` and no versions.
	if (packument?.time?.unpublished && packument.versions === undefined) {
		return report({ kind: "skipped", name, reason: "every version was unpublished at the source" });
	}
	if (!isPackument(packument, name)) return fail("the source's packument is malformed: package skipped");
	if (Object.keys(packument.versions).length === 0) {
		return report({ kind: "skipped", name, reason: "no versions at the source (unpublished there)" });
	}
	let here;
	try {
		here = await getJson(`${to}/${encodeName(name)}`, toToken);
	} catch (error) {
		if (error.status === 401) assertTokenTaken(401, error.message);
		return fail(`this registry's packument: ${error.message}`);
	}
	// A name this registry serves from its upstream is not here (yet).
	const hereVersions = here && !here.headers.has("x-registry-upstream") ? (here.body.versions ?? {}) : {};
	const time = packument.time ?? {};
	const versions = Object.entries(packument.versions).sort(([a], [b]) =>
		String(time[a] ?? "").localeCompare(String(time[b] ?? "")),
	);
	progress.addTotal(0, versions.length);
	// A package created here gets --access, else the source's own visibility where it says (npmjs,
	// this registry: `npm access get status`), else the registry's DEFAULT_ACCESS.
	const access =
		options.access ??
		(Object.keys(hereVersions).length === 0 && !dryRun ? await sourceVisibility(from, fromToken, name) : undefined);
	let landed = 0;
	for (const [version, manifest] of versions) {
		const outcome = await migrateVersion(name, version, manifest, packument, hereVersions[version], {
			...options,
			access,
		});
		report({ name, version, ...outcome });
		progress.add({ versions: 1, bytes: outcome.bytes ?? 0 });
		if (outcome.kind === "copied" || outcome.kind === "present") landed++;
	}
	if (dryRun || landed === 0) return;
	// Another instance of this registry names its removed numbers only to its admins.
	const removedThere = fromToken ? await removedAtSource(from, fromToken, name) : [];
	const metadata = {
		"dist-tags": packument["dist-tags"] && typeof packument["dist-tags"] === "object" ? packument["dist-tags"] : {},
		...(typeof time.created === "string" ? { created: time.created } : {}),
		...(typeof time.modified === "string" ? { modified: time.modified } : {}),
		...(Array.isArray(packument.maintainers)
			? { maintainers: packument.maintainers.filter((m) => typeof m?.name === "string") }
			: {}),
		unpublished: [...new Set([...unpublishedAtSource(packument), ...removedThere])].filter(
			(version) => !(version in packument.versions),
		),
		// Deprecations made at the source after an earlier run reach the versions already here.
		deprecated: Object.fromEntries(
			Object.entries(packument.versions).map(([version, m]) => [
				version,
				typeof m?.deprecated === "string" ? m.deprecated : "",
			]),
		),
	};
	try {
		const answer = await request(
			`${to}/-/admin/import/${encodeName(name)}/-/metadata`,
			{
				method: "PUT",
				headers: { "content-type": "application/json", ...authorization(toToken) },
				body: JSON.stringify(metadata),
			},
			async (response) => {
				const text = await response.text();
				if (!response.ok) throw new RequestFailed(`${response.status} ${errorText(text)}`, response.status);
				return JSON.parse(text);
			},
		);
		for (const skipped of answer.skipped ?? []) {
			report({ kind: "note", name, reason: `dist-tag ${skipped.tag} → ${skipped.version} not set: ${skipped.reason}` });
		}
		for (const version of answer.deprecationsChanged ?? []) {
			report({ kind: "note", name, reason: `${version}: deprecation brought in line with the source` });
		}
		for (const version of answer.liveHere ?? []) {
			report({ kind: "note", name, reason: `${version} is unpublished at the source but published here: left alone` });
		}
	} catch (error) {
		fail(`dist-tags and package metadata: ${error.message}`);
	}
}

/**
 * The numbers removed at a source that is another instance of this registry (its packument, unlike
 * npmjs's, keeps no `time` of removed versions): `GET /-/admin/export/unpublished`, which answers
 * its admins. Any other source, or token, answers nothing here.
 */
async function removedAtSource(from, token, name) {
	try {
		const answer = await getJson(`${from}/-/admin/export/unpublished?package=${encodeURIComponent(name)}`, token, {
			retries: 0,
		});
		const listed = answer?.body?.unpublished;
		return Array.isArray(listed) ? listed.map((u) => u?.version).filter((v) => typeof v === "string") : [];
	} catch {
		return [];
	}
}

/** `public` or `restricted` as the source's `GET /-/package/{name}/visibility` says; undefined when it does not. */
async function sourceVisibility(from, token, name) {
	try {
		const answer = await getJson(`${from}/-/package/${encodeName(name)}/visibility`, token, { retries: 0 });
		const visible = answer?.body?.public;
		return typeof visible === "boolean" ? (visible ? "public" : "restricted") : undefined;
	} catch {
		return undefined; // a source without the endpoint: DEFAULT_ACCESS decides
	}
}

/**
 * The version's publish time at the source; a source that kept none (a Verdaccio fed by hand, an
 * old CouchDB) gives its package's `modified`, else `created`, else now: a time that is not older
 * than the truth, so age gates (minimumReleaseAge, --before) never let a version through early.
 */
function publishTime(packument, version) {
	const time = packument.time ?? {};
	for (const candidate of [time[version], time.modified, time.created]) {
		if (typeof candidate === "string" && !Number.isNaN(Date.parse(candidate))) return candidate;
	}
	return new Date().toISOString();
}

function isPackument(doc, name) {
	return (
		doc !== null &&
		typeof doc === "object" &&
		doc.name === name &&
		doc.versions !== null &&
		typeof doc.versions === "object" &&
		!Array.isArray(doc.versions)
	);
}

async function migrateVersion(name, version, manifest, packument, hereDist, options) {
	const { from, fromToken, to, toToken, dryRun } = options;
	if (manifest === null || typeof manifest !== "object" || manifest.version !== version) {
		return { kind: "failed", reason: "the source's manifest of this version is malformed" };
	}
	const dist = manifest.dist ?? {};
	if (hereDist !== undefined) {
		return sameBytes(hereDist.dist ?? hereDist, dist)
			? { kind: "present" }
			: { kind: "failed", reason: "conflict: this registry has this version with other bytes (not overwritten)" };
	}
	const time = publishTime(packument, version);
	if (dryRun) return { kind: "dry-run" };
	const basename = name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name;
	// A source that names no tarball URL has it where npm's registries keep it.
	const tarballUrl = new URL(
		typeof dist.tarball === "string" ? dist.tarball : `${name}/-/${basename}-${version}.tgz`,
		`${from}/`,
	);
	// The source's token goes only to the source.
	const token = tarballUrl.origin === new URL(from).origin ? fromToken : null;
	let bytes;
	try {
		bytes = await request(tarballUrl, { headers: authorization(token) }, async (response) => {
			if (!response.ok) throw new RequestFailed(`tarball: ${response.status}`, response.status);
			return readWhole(response);
		});
	} catch (error) {
		return { kind: "failed", reason: `tarball: ${error.message}` };
	}
	const problem = integrityProblem(dist, checksumsOf(bytes));
	if (problem) return { kind: "failed", reason: `${problem}: not imported`, bytes: 0 };
	const document = {
		name,
		versions: { [version]: manifest },
		time: { [version]: time },
		// Who may read a package created here: --access, else the registry's DEFAULT_ACCESS.
		...(options.access ? { access: options.access } : {}),
		_attachments: { [`${basename}-${version}.tgz`]: { data: DATA_MARK, length: bytes.length } },
	};
	const { body, length } = importBody(document, bytes);
	try {
		return await request(
			`${to}/-/admin/import/${encodeName(name)}`,
			{
				method: "PUT",
				headers: { "content-type": "application/json", "content-length": String(length), ...authorization(toToken) },
				body,
			},
			async (response) => {
				const text = await response.text();
				assertTokenTaken(response.status, text);
				if (response.status === 201) return { kind: "copied", bytes: bytes.length };
				if (response.status === 200) return { kind: "present" };
				const reason =
					response.status === 409 ? `conflict: ${errorText(text)}` : `${response.status} ${errorText(text)}`;
				return { kind: "failed", reason };
			},
		);
	} catch (error) {
		if (error instanceof TokenRefused) throw error;
		return { kind: "failed", reason: `import: ${error.message}` };
	}
}

/**
 * A response's bytes in one Buffer. With a Content-Length they are read into a Buffer of that size
 * as they come (a 60 MB tarball costs 60 MB, not its chunks and then their copy); without, joined.
 */
async function readWhole(response) {
	const declared = Number(response.headers.get("content-length") ?? "NaN");
	// A body sent compressed is decoded on the way: its Content-Length is not the bytes' length.
	const encoded = (response.headers.get("content-encoding") ?? "identity") !== "identity";
	if (!Number.isSafeInteger(declared) || declared < 0 || encoded || !response.body) {
		return Buffer.from(await response.arrayBuffer());
	}
	const bytes = Buffer.allocUnsafe(declared);
	let filled = 0;
	for await (const chunk of response.body) {
		if (filled + chunk.length > declared) throw new RequestFailed("the tarball is longer than its Content-Length");
		bytes.set(chunk, filled);
		filled += chunk.length;
	}
	if (filled !== declared) throw new RequestFailed(`the tarball ended after ${filled} of ${declared} bytes`);
	return bytes;
}

/** Stands in the document for the tarball's base64, which importBody streams in its place. */
const DATA_MARK = "\u0000tarball\u0000";
/** Bytes base64-encoded at a time: a multiple of 3, so the pieces join into one base64 text. */
const BASE64_PIECE = 3 * 64 * 1024;

/**
 * The import request's body as a stream made afresh for each attempt, and its length: the JSON
 * document with the tarball's base64 written piece by piece where DATA_MARK stands. Only the
 * tarball's bytes are held (they were checked whole), never a base64 copy of them nor a JSON string
 * of that copy: a 60 MB tarball costs about 60 MB, not 220 MB, times --concurrency (measured: four
 * 60 MB tarballs at --concurrency 4 peak at 395 MB resident, 1.47 GB before).
 */
export function importBody(document, bytes) {
	const parts = JSON.stringify(document).split(JSON.stringify(DATA_MARK));
	if (parts.length !== 2) throw new Error("the source's document holds this tool's placeholder: not imported");
	const [before, after] = parts;
	const head = Buffer.from(`${before}"`);
	const tail = Buffer.from(`"${after}`);
	const length = head.length + 4 * Math.ceil(bytes.length / 3) + tail.length;
	const body = () => {
		let offset = -1;
		return new ReadableStream({
			pull(controller) {
				if (offset === -1) {
					controller.enqueue(head);
					offset = 0;
				} else if (offset < bytes.length) {
					const piece = bytes.subarray(offset, offset + BASE64_PIECE);
					controller.enqueue(Buffer.from(piece.toString("base64")));
					offset += piece.length;
				} else {
					controller.enqueue(tail);
					controller.close();
				}
			},
		});
	};
	return { body, length };
}

// ── progress and summary ──────────────────────────────────────────────────────────────────────

function formatBytes(n) {
	if (n < 1024) return `${n} B`;
	if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} kB`;
	if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
	return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

function formatSeconds(s) {
	if (!Number.isFinite(s)) return "?";
	if (s < 60) return `${Math.round(s)} s`;
	return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/**
 * On a terminal, one line redrawn: a bar of versions done, packages, bytes, time left (from the
 * rate so far). Elsewhere (CI, a log file) plain lines, one per package done.
 */
export class Progress {
	constructor(stream = process.stderr) {
		this.stream = stream;
		this.tty = Boolean(stream.isTTY);
		this.started = Date.now();
		this.packages = 0;
		this.versions = 0;
		this.bytes = 0;
		this.totalPackages = 0;
		this.totalVersions = 0;
		this.timer = this.tty ? setInterval(() => this.draw(), 200) : null;
		this.timer?.unref();
	}

	addTotal(packages, versions) {
		this.totalPackages += packages;
		this.totalVersions += versions;
	}

	add({ packages = 0, versions = 0, bytes = 0, totalPackages, totalVersions }) {
		this.packages += packages;
		this.versions += versions;
		this.bytes += bytes;
		if (totalPackages !== undefined) this.totalPackages = Math.max(this.totalPackages, totalPackages);
		if (totalVersions !== undefined) this.totalVersions = Math.max(this.totalVersions, totalVersions);
	}

	/** A line that stays (a failure, a package done off a terminal). */
	line(text) {
		if (this.tty) this.stream.write("\r\x1b[2K");
		this.stream.write(`${text}\n`);
		if (this.tty) this.draw();
	}

	draw() {
		if (!this.tty) return;
		const elapsed = (Date.now() - this.started) / 1000;
		const total = Math.max(this.totalVersions, this.versions);
		const share = total === 0 ? 0 : this.versions / total;
		const width = 24;
		const filled = Math.round(share * width);
		const left = this.versions === 0 ? Number.NaN : (elapsed / this.versions) * (total - this.versions);
		this.stream.write(
			`\r\x1b[2K[${"#".repeat(filled)}${"-".repeat(width - filled)}] ` +
				`packages ${this.packages}/${this.totalPackages} · versions ${this.versions}/${total} · ` +
				`${formatBytes(this.bytes)} · ${formatSeconds(elapsed)} elapsed · ${formatSeconds(left)} left`,
		);
	}

	stop() {
		if (this.timer) clearInterval(this.timer);
		if (this.tty) {
			this.draw();
			this.stream.write("\n");
		}
	}
}

/** Runs `work` over `items`, `concurrency` at a time. */
async function pool(items, concurrency, work) {
	let next = 0;
	const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
		while (next < items.length) {
			const item = items[next++];
			await work(item);
		}
	});
	await Promise.all(workers);
}

export async function migrate(options, progress = new Progress()) {
	const from = trimSlash(options.from);
	const to = trimSlash(options.to);
	const summary = { copied: 0, present: 0, dryRun: 0, failed: [], skipped: [], notes: [] };
	const names = new Set(options.package);
	if (options.scopes.length > 0 || options.all) {
		const found = await discover(from, options.fromToken, options.scopes, options.all, (t) => progress.line(t));
		for (const name of found.names) names.add(name);
		for (const scope of found.unlisted) {
			summary.failed.push({ name: scope, reason: "the source answered none of the listings tried (see discovery)" });
		}
	}
	const list = [...names];
	progress.addTotal(list.length, 0);
	const report = (outcome) => {
		const label = outcome.version ? `${outcome.name}@${outcome.version}` : outcome.name;
		if (outcome.kind === "copied") summary.copied++;
		else if (outcome.kind === "present") summary.present++;
		else if (outcome.kind === "dry-run") summary.dryRun++;
		else if (outcome.kind === "skipped") summary.skipped.push(outcome);
		else if (outcome.kind === "note") summary.notes.push(outcome);
		else summary.failed.push(outcome);
		if (outcome.kind === "failed") progress.line(`failed  ${label}: ${outcome.reason}`);
		else if (outcome.kind === "note" || outcome.kind === "skipped")
			progress.line(`note    ${label}: ${outcome.reason}`);
		else if (!progress.tty) progress.line(`${outcome.kind.padEnd(7)} ${label}`);
	};
	const context = { ...options, from, to };
	await pool(list, options.concurrency, async (name) => {
		await migratePackage(name, context, report, progress);
		progress.add({ packages: 1 });
	});
	return summary;
}

function printSummary(summary, dryRun, out = process.stdout) {
	const lines = [];
	if (dryRun) lines.push(`dry run: ${summary.dryRun} versions would be copied, ${summary.present} already present`);
	else lines.push(`copied ${summary.copied}, already present ${summary.present}, failed ${summary.failed.length}`);
	for (const f of summary.failed) lines.push(`  failed ${f.version ? `${f.name}@${f.version}` : f.name}: ${f.reason}`);
	for (const n of [...summary.skipped, ...summary.notes]) lines.push(`  note   ${n.name}: ${n.reason}`);
	out.write(`${lines.join("\n")}\n`);
}

async function archive(options, progress) {
	const onProgress = (increment) => progress.add(increment);
	const result = options["to-archive"]
		? await exportToArchive({
				from: trimSlash(options.from),
				fromToken: options["from-token"],
				file: options["to-archive"],
				scopes: options.scopes,
				...(options.backup ? { backup: options.backup } : {}),
				onProgress,
			})
		: await restoreFromArchive({
				file: options["from-archive"],
				to: trimSlash(options.to),
				toToken: options["to-token"],
				onProgress,
			});
	return { copied: result.copied, present: result.present, dryRun: 0, failed: result.failed, skipped: [], notes: [] };
}

async function main() {
	let options;
	try {
		options = parseCommandLine(process.argv.slice(2));
		if (options.help) {
			console.log(USAGE);
			return 0;
		}
		const toArchive = options["to-archive"] !== undefined;
		const fromArchive = options["from-archive"] !== undefined;
		if (toArchive && fromArchive) throw new UsageError("--to-archive and --from-archive go in separate runs");
		if (!fromArchive && !options.from) throw new UsageError("--from <registry URL> is required");
		if (!toArchive && (!options.to || !options["to-token"])) {
			throw new UsageError("--to <URL> and --to-token <admin token> are required");
		}
		if (!toArchive && !fromArchive && options.package.length === 0 && options.scopes.length === 0 && !options.all) {
			throw new UsageError("name what to copy: --package <name>, --scope @s, or --all");
		}
		for (const url of [options.from, options.to]) if (url !== undefined) new URL(url);
	} catch (error) {
		console.error(`${error.message}\n${USAGE}`);
		return 2;
	}
	const progress = new Progress();
	const started = Date.now();
	// Every step is idempotent: an interrupted run is finished by running it again.
	for (const signal of ["SIGINT", "SIGTERM"]) {
		process.once(signal, () => {
			progress.stop();
			console.error(`interrupted: run the same command again to finish (nothing is copied twice)`);
			process.exit(130);
		});
	}
	let summary;
	try {
		summary =
			options["to-archive"] || options["from-archive"]
				? await archive(options, progress)
				: await migrate(
						{
							from: options.from,
							fromToken: options["from-token"],
							to: options.to,
							toToken: options["to-token"],
							package: options.package,
							scopes: options.scopes,
							all: options.all,
							access: options.access,
							dryRun: options["dry-run"],
							concurrency: options.concurrency,
						},
						progress,
					);
	} catch (error) {
		progress.stop();
		const expected = error instanceof UsageError || error instanceof TokenRefused;
		console.error(expected ? error.message : `migration failed: ${error.stack ?? error}`);
		return 1;
	}
	progress.stop();
	printSummary(summary, options["dry-run"]);
	console.log(
		`${progress.packages} packages, ${progress.versions} versions, ${formatBytes(progress.bytes)} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
	);
	return summary.failed.length > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main();
