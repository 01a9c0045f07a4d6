// `npm run attack-review`: the adversarial review of issue #9, run again by hand as an attacker
// would, against a registry started the way a user starts it (`npm start`).
//
// The registry runs on a free loopback port with a state directory and a secrets file of its own
// in a temp dir (never the working tree's .dev.vars or .wrangler/state); the admin token is read
// from that secrets file once `npm start` has written it. Every attack is real HTTP; where the
// issue involves npm's own flows (login, token create, publish), the requests are the ones npm 11
// sends. Some attacks come from other loopback addresses (127.0.0.x, bound as the connection's
// source address): real client addresses the local edge sees, so one attack's per-address lockout
// never touches another's. That is why the registry listens on every interface here: on
// 127.0.0.1, npm start reports every client as 127.0.0.1 (see scripts/start.mjs).
//
// Output: one table row per attack: what the review saw before the fixes, what happens now
// (status codes, timings, counts) and PASS/FAIL. PASS/FAIL is decided by the security property
// (status, counts, content); timings are evidence only.

import { spawn } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { createGzip, gzipSync } from "node:zlib";
import { createTarPacker, packTar } from "modern-tar";
import { Agent } from "undici";
import { upstreamReview } from "./attack-review-upstream.mjs";
import { SECRETS } from "./dev-vars.mjs";

const root = resolve(import.meta.dirname, "..");
const started = performance.now();
const temp = mkdtempSync(join(tmpdir(), "attack-review-"));
const statePath = join(temp, "state");
const devVars = join(temp, "dev.vars");
const run = randomBytes(3).toString("hex");
const ALL = ["read", "upload", "publish"];
const NPM_UA = "npm/11.6.2 node/v24.21.0 linux x64 workspaces/false";

let R = ""; // the registry's URL
let ADMIN = ""; // the admin token, from the temp DEV_VARS file
const rows = [];

// ── the table ──────────────────────────────────────────────────────────────────────────────────

function report(item, attack, before, now, pass) {
	rows.push({ item, attack, before, now, pass });
}

function wrap(text, width) {
	const lines = [];
	let line = "";
	for (const word of String(text).split(" ")) {
		if (line && line.length + 1 + word.length > width) {
			lines.push(line);
			line = "";
		}
		line = line ? `${line} ${word}` : word;
		while (line.length > width) {
			lines.push(line.slice(0, width));
			line = line.slice(width);
		}
	}
	lines.push(line);
	return lines;
}

function printTable() {
	const columns = [
		["#", 5, "item"],
		["attack", 44, "attack"],
		["before the fixes (review)", 34, "before"],
		["now", 64, "now"],
		["result", 6, "pass"],
	];
	const rule = columns.map(([, w]) => "-".repeat(w)).join("-+-");
	const line = (cells) => cells.map((c, i) => c.padEnd(columns[i][1])).join(" | ");
	console.log(line(columns.map(([title]) => title)));
	console.log(rule);
	for (const row of rows) {
		const cells = columns.map(([, width, key]) =>
			wrap(key === "pass" ? (row.pass ? "PASS" : "FAIL") : row[key], width),
		);
		const height = Math.max(...cells.map((c) => c.length));
		for (let i = 0; i < height; i++) console.log(line(cells.map((c) => c[i] ?? "")));
		console.log(rule);
	}
}

const ms = (value) => (value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`);
const kb = (bytes) =>
	bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.round(bytes / 1024)} KB`;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const sleep = (millis) => new Promise((done) => setTimeout(done, millis));
const unique = (prefix) => `ar-${prefix}-${run}`;
const scopeName = (prefix) => `@ar${prefix}${run}`;
/** `401×9, 429`: a list of statuses, runs compressed. */
function runs(statuses) {
	const out = [];
	for (const s of statuses) {
		const last = out.at(-1);
		if (last && last.status === s) last.count++;
		else out.push({ status: s, count: 1 });
	}
	return out.map(({ status, count }) => (count > 1 ? `${status}×${count}` : String(status))).join(", ");
}

// ── HTTP ───────────────────────────────────────────────────────────────────────────────────────

const agents = new Map();
/** A connection pool whose sockets leave from `address`: another real client address on loopback. */
function agentFrom(address) {
	if (!agents.has(address)) agents.set(address, new Agent({ localAddress: address }));
	return agents.get(address);
}

/** One request; answers status, headers, text, parsed JSON (or null) and the time it took. */
async function http(path, { method = "GET", token, body, headers = {}, from } = {}) {
	const sent = { ...headers };
	if (token) sent.authorization = `Bearer ${token}`;
	let payload = body;
	if (body !== undefined && typeof body !== "string" && !(body instanceof Uint8Array)) payload = JSON.stringify(body);
	if (typeof payload === "string" && !sent["content-type"]) sent["content-type"] = "application/json";
	const t0 = performance.now();
	const res = await fetch(`${R}${path}`, {
		method,
		headers: sent,
		body: payload,
		...(from ? { dispatcher: agentFrom(from) } : {}),
	});
	const text = await res.text();
	const took = performance.now() - t0;
	let json = null;
	try {
		json = JSON.parse(text);
	} catch {}
	return { status: res.status, headers: res.headers, text, json, ms: took };
}

/**
 * A GET through node:http, which sends a Host header as given (fetch always sends the URL's own):
 * for requests that lie about the registry's name.
 */
function rawGet(path, headers) {
	return new Promise((done, fail) => {
		const req = httpRequest(`${R}${path}`, { headers }, (res) => {
			const chunks = [];
			res.on("data", (chunk) => chunks.push(chunk));
			res.on("end", () => done({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
		});
		req.on("error", fail);
		req.end();
	});
}

const admin = (path, method = "GET", body = undefined, headers = {}) =>
	http(path, { method, token: ADMIN, body, headers });

/**
 * Runs `work` while a bystander pings the registry every 50 ms: the slowest ping shows whether the
 * attack stalled everyone else.
 */
async function whileProbing(work) {
	let done = false;
	const pings = [];
	const bystander = (async () => {
		while (!done) {
			const t0 = performance.now();
			await fetch(`${R}/-/ping`).then((r) => r.arrayBuffer());
			pings.push(performance.now() - t0);
			await sleep(50);
		}
	})();
	try {
		const value = await work();
		return { value, slowestPing: Math.max(0, ...pings) };
	} finally {
		done = true;
		await bystander;
	}
}

// ── what npm sends ─────────────────────────────────────────────────────────────────────────────

/** `npm login` (CouchDB style): PUT /-/user/org.couchdb.user:{name}, with npm-otp when prompted. */
function npmLogin(name, password, { otp, from, email } = {}) {
	return http(`/-/user/org.couchdb.user:${encodeURIComponent(name)}`, {
		method: "PUT",
		from,
		headers: { "npm-command": "login", "user-agent": NPM_UA, ...(otp ? { "npm-otp": otp } : {}) },
		body: {
			_id: `org.couchdb.user:${name}`,
			name,
			password,
			...(email ? { email } : {}),
			type: "user",
			roles: [],
			date: new Date().toISOString(),
		},
	});
}

/** `npm token create`: POST /-/npm/v1/tokens with npm 11's body. */
function npmTokenCreate(token, data, otp) {
	return http("/-/npm/v1/tokens", {
		method: "POST",
		token,
		headers: { "npm-command": "token", "user-agent": NPM_UA, ...(otp ? { "npm-otp": otp } : {}) },
		body: { name: null, ...data },
	});
}

/** A gzip tarball laid out as `npm pack` makes it (`package/…`). */
async function tarball(files) {
	const entries = Object.entries(files).map(([path, content]) => {
		const bytes = typeof content === "string" ? Buffer.from(content) : content;
		return { header: { name: `package/${path}`, size: bytes.byteLength }, body: bytes };
	});
	return gzipSync(await packTar(entries));
}

/** The document libnpmpublish PUTs for `npm publish`, around a ready tarball. */
function publishDocument(name, version, tgz, { manifest = {}, tags, access = null } = {}) {
	return {
		_id: name,
		name,
		description: manifest.description ?? `${name} description`,
		"dist-tags": tags ?? { latest: version },
		versions: {
			[version]: {
				name,
				version,
				description: `${name} description`,
				main: "index.js",
				...manifest,
				_id: `${name}@${version}`,
				dist: {
					integrity: `sha512-${createHash("sha512").update(tgz).digest("base64")}`,
					shasum: createHash("sha1").update(tgz).digest("hex"),
					tarball: `${R}/${name}/-/${name.split("/").pop()}-${version}.tgz`,
				},
			},
		},
		access,
		_attachments: {
			[`${name}-${version}.tgz`]: {
				content_type: "application/octet-stream",
				data: Buffer.from(tgz).toString("base64"),
				length: tgz.byteLength,
			},
		},
	};
}

/** PUT /{name} as npm publish sends it (a scoped name as @scope%2fname). */
function putDocument(name, document, token, { otp, from } = {}) {
	return http(`/${name.replace("/", "%2f")}`, {
		method: "PUT",
		token,
		from,
		headers: { "npm-command": "publish", "user-agent": NPM_UA, ...(otp ? { "npm-otp": otp } : {}) },
		body: document,
	});
}

/** `npm publish` of a package whose tarball's package.json says what the document says. */
async function npmPublish(name, version, token, { manifest = {}, files = {}, tags, access = null, otp, from } = {}) {
	const packageJson = { name, version, main: "index.js", ...manifest };
	const tgz = await tarball({
		"package.json": JSON.stringify(packageJson),
		"index.js": `module.exports = ${JSON.stringify(version)};\n`,
		...files,
	});
	return putDocument(name, publishDocument(name, version, tgz, { manifest, tags, access }), token, { otp, from });
}

// ── set-up through the admin API ───────────────────────────────────────────────────────────────

async function createToken(grants, extra = {}) {
	const res = await admin("/-/admin/tokens", "POST", { kind: "developer", name: "attack", grants, ...extra });
	if (res.status !== 201) throw new Error(`token: ${res.status} ${res.text}`);
	return res.json.token;
}

async function createUser(name, grants = []) {
	const password = `pw-${randomBytes(8).toString("hex")}`;
	const res = await admin("/-/admin/users", "POST", { name, password, email: `${name}@example.com`, grants });
	if (res.status !== 201) throw new Error(`user ${name}: ${res.status} ${res.text}`);
	return { name, password };
}

/** Turns TOTP on for a user; answers the base32 secret of the otpauth:// URI the API returns once. */
async function enrolTotp(name) {
	const res = await admin(`/-/admin/users/${name}/totp`, "POST");
	if (res.status !== 201) throw new Error(`totp ${name}: ${res.status} ${res.text}`);
	return new URL(res.json.otpauth).searchParams.get("secret");
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s steps) for `at`, computed with node:crypto. */
function totp(secret, at = Date.now()) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	const bits = [...secret.replace(/=+$/, "").toUpperCase()]
		.map((c) => alphabet.indexOf(c).toString(2).padStart(5, "0"))
		.join("");
	const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((byte) => Number.parseInt(byte, 2)));
	const counter = Buffer.alloc(8);
	counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
	const mac = createHmac("sha1", key).update(counter).digest();
	const offset = mac[19] & 0xf;
	return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

async function registryAudit(since) {
	const res = await admin(`/-/admin/audit?since=${encodeURIComponent(since)}&limit=1000`);
	return res.json.entries;
}

// ── the state directory, as an attacker with a shell on the host would look at it ──────────────

const doFolder = (kind) => join(statePath, "v3", "do", `workers-registry-${kind}`);

/** The per-object SQLite databases of one Durable Object class (its metadata.sqlite aside). */
function objectDatabases(kind) {
	const folder = doFolder(kind);
	if (!existsSync(folder)) return [];
	return readdirSync(folder)
		.filter((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite")
		.map((f) => join(folder, f));
}

/** Reads a file, or null when it is gone (workerd removes an object's -wal and -shm when it closes it). */
function readIfThere(file) {
	try {
		return readFileSync(file);
	} catch (error) {
		if (error.code === "ENOENT") return null;
		throw error;
	}
}

function filesUnder(folder) {
	if (!existsSync(folder)) return [];
	return readdirSync(folder, { recursive: true, withFileTypes: true })
		.filter((entry) => entry.isFile())
		.map((entry) => join(entry.parentPath, entry.name));
}

/** How many files under the state's Durable Object folder contain `needle`. */
function filesContaining(needle) {
	const bytes = Buffer.from(needle);
	return filesUnder(join(statePath, "v3", "do")).filter((f) => readIfThere(f)?.includes(bytes)).length;
}

/** The tables inside SQLite files, read-only through node:sqlite. */
async function tablesIn(files) {
	process.removeAllListeners("warning"); // node:sqlite is still marked experimental
	const { DatabaseSync } = await import("node:sqlite");
	let tables = 0;
	for (const file of files) {
		const db = new DatabaseSync(file, { readOnly: true });
		tables += Number(db.prepare("SELECT count(*) AS n FROM sqlite_master").get().n);
		db.close();
	}
	return tables;
}

const r2Objects = () => filesUnder(join(statePath, "v3", "r2", "registry-blobs", "blobs")).length;

// ── hand-made tarballs for the hostile ones ────────────────────────────────────────────────────

/** A gzip bomb: package.json and `zeros` bytes of zeros, compressed as it streams (never held whole). */
async function gzipBomb(name, zeros) {
	const { readable, controller } = createTarPacker();
	const gzipped = buffer(Readable.fromWeb(readable).pipe(createGzip({ level: 1 })));
	const add = async (header, chunks) => {
		const writer = controller.add(header).getWriter();
		for (const chunk of chunks) await writer.write(chunk);
		await writer.close();
	};
	const json = Buffer.from(JSON.stringify({ name, version: "1.0.0" }));
	await add({ name: "package/package.json", size: json.length }, [json]);
	const chunk = new Uint8Array(1024 * 1024);
	const chunks = function* () {
		for (let left = zeros; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
	};
	await add({ name: "package/zeros.bin", size: zeros }, chunks());
	controller.finalize();
	return gzipped;
}

/** A tarball of package.json, index.js and `count` empty entries. */
async function manyEntries(name, count) {
	const json = JSON.stringify({ name, version: "1.0.0" });
	const entries = [
		{ header: { name: "package/package.json", size: Buffer.byteLength(json) }, body: json },
		{ header: { name: "package/index.js", size: 0 }, body: "" },
	];
	for (let i = 0; i < count; i++) entries.push({ header: { name: `package/e/${i}`, size: 0 }, body: "" });
	return gzipSync(await packTar(entries), { level: 6 });
}

// ── the items of issue #9 ──────────────────────────────────────────────────────────────────────

// 1. Regex denial of service in the author parser: a publish (and an upload with only `upload`)
//    whose author is "a" + 5000 spaces + "<", then the search delivery and an anonymous download.
async function item1() {
	const name = unique("redos");
	const hostile = `a${" ".repeat(5000)}<`;
	const token = await createToken([{ package: name, permissions: ALL }]);
	const tgz = await tarball({
		"package.json": JSON.stringify({ name, version: "1.0.0", author: hostile }),
		"index.js": "module.exports = 1;\n",
	});
	const document = publishDocument(name, "1.0.0", tgz, { manifest: { author: hostile }, access: "public" });
	const size = Buffer.byteLength(JSON.stringify(document));
	const { value: publish, slowestPing } = await whileProbing(() => putDocument(name, document, token));
	// The alarm sends the package's document (author parsed) to the search index.
	const t0 = performance.now();
	let hit = null;
	while (!hit && performance.now() - t0 < 30_000) {
		const found = await http(`/-/v1/search?text=${name}&size=5`);
		hit = found.json?.objects?.find((o) => o.package.name === name) ?? null;
		if (!hit) await sleep(200);
	}
	const indexed = performance.now() - t0;
	const download = await http(`/${name}/-/${name}-1.0.0.tgz`);
	const after = await http("/-/ping");

	const uploaded = unique("redos-up");
	const uploader = await createToken([{ package: uploaded, permissions: ["read", "upload"] }]);
	const bundle = await tarball({
		"package.json": JSON.stringify({ name: uploaded, version: "1.0.0", author: hostile }),
		"index.js": "export default 1;\n",
	});
	const upload = await http(`/packages/${uploaded}/upload`, { method: "POST", token: uploader, body: bundle });

	const big = unique("redos-100k");
	const bigToken = await createToken([{ package: big, permissions: ALL }]);
	const bigAuthor = `a${" ".repeat(100_000)}<`;
	const bigPublish = await npmPublish(big, "1.0.0", bigToken, { manifest: { author: bigAuthor }, access: "public" });

	const pass =
		publish.status === 201 &&
		hit !== null &&
		download.status === 200 &&
		upload.status === 201 &&
		bigPublish.status === 201 &&
		JSON.stringify(hit).length < 10_000;
	report(
		"1",
		`npm publish (${kb(size)}) with author "a"+5000 spaces+"<", search it, download it anonymously; the same via an upload-only token; a 100 KB author`,
		"5.7 KB publish froze the whole server 59 s (cost ~cubic); upload did too; one tarball download re-triggered it",
		`publish ${publish.status} in ${ms(publish.ms)} (slowest bystander ping ${ms(slowestPing)}); ` +
			`indexed and found by search after ${ms(indexed)} (hit ${JSON.stringify(hit ?? {}).length} B); ` +
			`tarball ${download.status} in ${ms(download.ms)}, ping after ${ms(after.ms)}; ` +
			`upload-only ${upload.status} in ${ms(upload.ms)}; 100 KB author ${bigPublish.status} in ${ms(bigPublish.ms)}`,
		pass,
	);
}

// 2. Two-factor rule bypass: a user without TOTP in a scope that requires two-factor asks for a
//    bypass_2fa token with her password, and a read-only token asks for a read-write one.
async function item2() {
	const scope = scopeName("tfa");
	await admin(`/-/admin/scopes/${scope}`, "PUT", { requireTwoFactor: true });
	const carol = await createUser(unique("carol"), [{ scope, permissions: ALL }]);
	const login = (await npmLogin(carol.name, carol.password)).json.token;
	const withLogin = await npmPublish(`${scope}/lib`, "1.0.0", login);
	const bypass = await npmTokenCreate(login, { password: carol.password, bypass_2fa: true });
	const plain = await npmTokenCreate(login, { password: carol.password });
	const owned = `${scope}/owned`;
	await npmPublish(owned, "1.0.0", ADMIN);
	const withPlain = await npmPublish(`${scope}/lib`, "1.0.0", plain.json.token);
	const tag = await http(`/-/package/${owned.replace("/", "%2f")}/dist-tags/beta`, {
		method: "PUT",
		token: plain.json.token,
		body: '"1.0.0"',
	});
	const mfaOff = await http(`/-/package/${owned.replace("/", "%2f")}/access`, {
		method: "POST",
		token: plain.json.token,
		body: { publish_requires_tfa: false },
	});
	const readonly = await npmTokenCreate(login, {
		password: carol.password,
		scopes: [scope],
		packages_and_scopes_permission: "read-only",
	});
	const escalated = await npmTokenCreate(readonly.json.token, { password: carol.password });

	// The legitimate path still works: a user with TOTP makes a bypass token with a code.
	const dave = await createUser(unique("dave"), [{ scope, permissions: ALL }]);
	const secret = await enrolTotp(dave.name);
	const prompted = await npmLogin(dave.name, dave.password);
	const daveLogin = await npmLogin(dave.name, dave.password, { otp: totp(secret) });
	const daveBypass = await npmTokenCreate(
		daveLogin.json.token,
		{ password: dave.password, bypass_2fa: true },
		totp(secret, Date.now() + 30_000),
	);
	const bypassPublish = await npmPublish(`${scope}/lib2`, "1.0.0", daveBypass.json.token);

	report(
		"2",
		`user without TOTP in a requireTwoFactor scope: npm token create --bypass-2fa with her password; a plain token publishes, tags, sets mfa=none; a read-only token mints a read-write one`,
		"bypass token 201: it published, moved tags and turned the requirement off; read-only token minted a read-write token",
		`publish with login token ${withLogin.status}; bypass_2fa create ${bypass.status} ("${bypass.json?.error}"); ` +
			`plain token ${plain.status}, its publish ${withPlain.status}, dist-tag ${tag.status}, mfa off ${mfaOff.status}; ` +
			`read-only → read-write ${escalated.status}. Control (user with TOTP): login w/o code ${prompted.status} ` +
			`(${prompted.headers.get("www-authenticate")}), with code ${daveLogin.status}, bypass token with code ${daveBypass.status}, its publish w/o code ${bypassPublish.status}`,
		withLogin.status === 403 &&
			bypass.status === 403 &&
			withPlain.status === 403 &&
			tag.status === 403 &&
			mfaOff.status === 403 &&
			readonly.status === 201 &&
			escalated.status === 403 &&
			daveBypass.status === 201 &&
			bypassPublish.status === 201,
	);
}

// 3. Client-supplied CF-Connecting-IP: forge it to pass a token's CIDR range, to spread failed
//    authentications over many "addresses", and to plant an address in the audit trail.
async function item3() {
	const fenced = await createToken([], { cidr: ["10.9.8.0/24"] });
	const forgedIn = await http("/-/whoami", { token: fenced, headers: { "cf-connecting-ip": "10.9.8.7" } });
	const local = await createToken([], { cidr: ["127.0.0.1/32"] });
	const fromLocal = await http("/-/whoami", { token: local });
	const forgedLocal = await http("/-/whoami", {
		token: local,
		from: "127.0.0.3",
		headers: { "cf-connecting-ip": "127.0.0.1" },
	});
	const other = await createToken([], { cidr: ["127.0.0.3/32"] });
	const realOther = await http("/-/whoami", { token: other, from: "127.0.0.3" });

	const since = new Date().toISOString();
	const forged = { "cf-connecting-ip": "203.0.113.66" };
	await admin("/-/admin/tokens", "POST", { kind: "developer", name: `forged-ip-${run}`, grants: [] }, forged);
	const created = (await registryAudit(since)).find((e) => e.action === "token.create");

	// Failed authentications are limited to 30 a minute per address: forge a new one each time.
	const statuses = [];
	for (let i = 0; i < 61 && !statuses.includes(429); i++) {
		const bogus = `dev_${randomBytes(32).toString("hex")}`;
		const res = await http("/-/whoami", {
			token: bogus,
			from: "127.0.0.33",
			headers: { "cf-connecting-ip": `198.51.100.${i + 1}` },
		});
		statuses.push(res.status);
	}
	report(
		"3",
		"forged CF-Connecting-IP: token fenced to 10.9.8.0/24 sent with 10.9.8.7; token fenced to 127.0.0.1 from 127.0.0.3 claiming 127.0.0.1; audit row with 203.0.113.66; bad tokens each with a new forged address",
		"header trusted: CIDR ranges passed, per-IP limits reset by a new header, audit IP chosen by the client",
		`10.9.8.0/24 token with forged 10.9.8.7: ${forgedIn.status}; 127.0.0.1/32 token from 127.0.0.1 ${fromLocal.status}, ` +
			`from 127.0.0.3 claiming 127.0.0.1 ${forgedLocal.status}; 127.0.0.3/32 token from 127.0.0.3 ${realOther.status}; ` +
			`audit ip of the forged request: ${created?.ip}; bad tokens, each with a new forged address: ${runs(statuses)}`,
		forgedIn.status === 403 &&
			fromLocal.status === 200 &&
			forgedLocal.status === 403 &&
			realOther.status === 200 &&
			created?.ip === "127.0.0.1" &&
			statuses.at(-1) === 429,
	);
}

// 4. Guessing one-time codes and passwords: wrong passwords for one user, wrong npm-otp codes for
//    a user with TOTP, and a password spray across names from one address.
async function item4() {
	const since = new Date().toISOString();
	const erin = await createUser(unique("erin"));
	const passwords = [];
	for (let i = 0; i < 60 && !passwords.includes(429); i++) {
		passwords.push((await npmLogin(erin.name, `wrong-${i}`, { from: "127.0.0.4" })).status);
	}
	const right = await npmLogin(erin.name, erin.password, { from: "127.0.0.41" });

	const name = unique("otp");
	const frank = await createUser(unique("frank"), [{ package: name, permissions: ALL }]);
	const secret = await enrolTotp(frank.name);
	const login = (await npmLogin(frank.name, frank.password, { otp: totp(secret) })).json.token;
	const codes = [];
	for (let i = 0; i < 300 && !codes.includes(429); i++) {
		const guess = String((Number(totp(secret)) + 1 + i) % 1_000_000).padStart(6, "0");
		codes.push((await npmPublish(name, "1.0.0", login, { otp: guess, from: "127.0.0.42" })).status);
	}
	const rightCode = await npmPublish(name, "1.0.0", login, {
		otp: totp(secret, Date.now() + 30_000),
		from: "127.0.0.42",
	});

	const spray = [];
	for (let i = 0; i < 60 && !spray.includes(429); i++) {
		spray.push((await npmLogin(unique(`spray${i}`), "guess-guess", { from: "127.0.0.43" })).status);
	}
	const audit = await registryAudit(since);
	const failed = (action, target) => audit.filter((e) => e.action === action && e.target === target).length;
	report(
		"4",
		"npm login with wrong passwords for one user (up to 60), publish with wrong npm-otp codes (up to 300), a password spray over new names from one address (up to 60)",
		"300 wrong npm-otp codes and 60 wrong passwords from one address: all 401, none 429",
		`passwords: ${runs(passwords)}; right password from another address then ${right.status} (Retry-After ${right.headers.get("retry-after")} s); ` +
			`codes: ${runs(codes)}; right code then ${rightCode.status}; spray: ${runs(spray)}; ` +
			`audited: ${failed("login.failed", erin.name)} login.failed, ${failed("otp.failed", frank.name)} otp.failed`,
		passwords.at(-1) === 429 &&
			passwords.length === 10 &&
			right.status === 429 &&
			Number(right.headers.get("retry-after")) > 0 &&
			codes.at(-1) === 429 &&
			codes.length === 10 &&
			rightCode.status === 429 &&
			spray.at(-1) === 429 &&
			spray.length <= 30 &&
			failed("login.failed", erin.name) === 10 &&
			failed("otp.failed", frank.name) === 10,
	);
}

// 5a. A 60 KB semver range against a package with many versions (200, published through the API).
async function item5a() {
	const name = unique("range");
	const token = await createToken([{ package: name, permissions: ALL }]);
	const t0 = performance.now();
	const versions = Array.from({ length: 200 }, (_, i) => `1.${i}.0`);
	for (let i = 0; i < versions.length; i += 4) {
		const batch = await Promise.all(versions.slice(i, i + 4).map((v) => npmPublish(name, v, token)));
		const refused = batch.find((r) => r.status !== 201);
		if (refused) throw new Error(`publish of ${name}: ${refused.status} ${refused.text}`);
	}
	const seeded = performance.now() - t0;
	/** `>=1.0.0 <1.0.1 || >=1.1.0 <1.1.1 || …` until it is `bytes` long (URL-encoded when `encoded`). */
	const rangeOf = (bytes, encoded = false) => {
		const alternatives = [];
		const size = () => (encoded ? encodeURIComponent(alternatives.join(" || ")) : alternatives.join(" || ")).length;
		for (let i = 0; size() < bytes; i++) alternatives.push(`>=1.${i % 200}.0 <1.${i % 200}.1`);
		return encodeURIComponent(alternatives.join(" || "));
	};
	const huge = await http(`/${name}/${rangeOf(60 * 1024)}`, { token });
	// The largest range the local edge passes on (Node's 16 KB header limit), eight at once.
	const edgeSized = rangeOf(14 * 1024, true);
	const t1 = performance.now();
	const parallel = await Promise.all(Array.from({ length: 8 }, () => http(`/${name}/${edgeSized}`, { token })));
	const parallelMs = performance.now() - t1;
	// The costliest range still allowed (256 characters), eight at once.
	const allowed = encodeURIComponent(Array.from({ length: 15 }, (_, i) => `>=1.${i}.0 <1.${i}.1`).join("||"));
	const t2 = performance.now();
	const widest = await Promise.all(Array.from({ length: 8 }, () => http(`/${name}/${allowed}`, { token })));
	const widestMs = performance.now() - t2;
	const legit = await http(`/${name}/${encodeURIComponent("^1.0.0 || >=1.150.0 <1.160.0")}`, { token });
	report(
		"5a",
		"GET /{name}/{60 KB semver range} on a 200-version package; a 14 KB URL of range ×8 in parallel; the largest allowed range ×8",
		"1,000 versions: 0.6–1.0 s each, 5 s with eight in parallel",
		`200 versions published in ${ms(seeded)}; 60 KB range: ${huge.status} in ${ms(huge.ms)} (the local edge's 16 KB header limit); ` +
			`14 KB URL ×8: ${runs(parallel.map((r) => r.status))} ("${parallel[0].json?.error}"), all in ${ms(parallelMs)}; ` +
			`largest allowed (${decodeURIComponent(allowed).length} chars, 15 alternatives) ×8: ${runs(widest.map((r) => r.status))} in ${ms(widestMs)}; ` +
			`a real range: ${legit.status} ${legit.json?.version} in ${ms(legit.ms)}`,
		huge.status >= 400 &&
			huge.status < 500 &&
			parallel.every((r) => r.status === 400) &&
			widest.every((r) => r.status === 200) &&
			legit.status === 200 &&
			legit.json?.version === "1.199.0",
	);
}

// 5b. 20,000 dist-tags in one publish; then a package's channels past their cap one by one.
async function item5b() {
	const name = unique("tags");
	const token = await createToken([{ package: name, permissions: ALL }]);
	const tags = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`t${i}`, "1.0.0"]));
	const many = await npmPublish(name, "1.0.0", token, { tags });
	const missing = await http(`/${name}`, { token });
	await npmPublish(name, "1.0.0", token);
	const moves = [];
	for (let i = 0; i < 150 && !moves.includes(409); i++) {
		const res = await http(`/-/package/${name}/dist-tags/c${i}`, { method: "PUT", token, body: '"1.0.0"' });
		moves.push(res.status);
	}
	const listed = await http(`/-/package/${name}/dist-tags`, { token });
	const count = Object.keys(listed.json ?? {}).length;
	report(
		"5b",
		"npm publish with 20,000 dist-tags; then npm dist-tag add until refused",
		"20,000 dist-tags accepted in one publish",
		`20,000 tags: ${many.status} in ${ms(many.ms)} ("${many.json?.error}"), package not created (${missing.status}); ` +
			`dist-tag add: ${runs(moves)} → ${count} tags kept`,
		many.status === 400 && missing.status === 404 && moves.at(-1) === 409 && count <= 100,
	);
}

// 5c. A gzip bomb of about 1 MB published with npm publish.
async function item5c() {
	const name = unique("bomb");
	const token = await createToken([{ package: name, permissions: ALL }]);
	const bomb = await gzipBomb(name, 224 * 1024 * 1024);
	const document = publishDocument(name, "1.0.0", bomb, {});
	const { value: res, slowestPing } = await whileProbing(() => putDocument(name, document, token));
	report(
		"5c",
		`npm publish of a ${kb(bomb.length)} gzip bomb (224 MB of zeros inside)`,
		"a 1 MB gzip bomb refused only after 5.4 s",
		`${res.status} in ${ms(res.ms)} ("${res.json?.error}"); slowest bystander ping ${ms(slowestPing)}`,
		res.status === 413,
	);
}

// 5d. A tarball of 150,000 empty entries.
async function item5d() {
	const name = unique("entries");
	const token = await createToken([{ package: name, permissions: ALL }]);
	const tgz = await manyEntries(name, 150_000);
	const document = publishDocument(name, "1.0.0", tgz, {});
	const { value: res, slowestPing } = await whileProbing(() => putDocument(name, document, token));
	report(
		"5d",
		`npm publish of a tarball of 150,000 empty entries (${kb(tgz.length)} gzip)`,
		"accepted after 13.6 s, stalling everything else",
		`${res.status} in ${ms(res.ms)} ("${res.json?.error}"); slowest bystander ping ${ms(slowestPing)}`,
		res.status === 413,
	);
}

// 6. Anonymous storage growth: GETs of never-seen names, and random bad tokens, then the SQLite
//    files under the state's Durable Object folder counted before and after, and what they hold.
async function item6() {
	const packagesBefore = new Set(objectDatabases("PackageMetadataDO"));
	const first = [];
	const second = [];
	const names = Array.from({ length: 100 }, (_, i) => `never-seen-${run}-${i}`);
	for (const name of names) first.push((await http(`/${name}`, { from: "127.0.0.6" })).ms);
	const statuses = [];
	for (const name of names.slice(0, 10)) {
		const again = await http(`/${name}`, { from: "127.0.0.6" });
		second.push(again.ms);
		statuses.push(again.status);
	}
	const newPackages = objectDatabases("PackageMetadataDO").filter((f) => !packagesBefore.has(f));

	const tokensBefore = new Set(objectDatabases("TokenDO"));
	const bogus = [];
	for (let i = 0; i < 20; i++) {
		const res = await http("/-/whoami", { token: `dev_${randomBytes(32).toString("hex")}`, from: "127.0.0.6" });
		bogus.push(res.status);
	}
	const newTokens = objectDatabases("TokenDO").filter((f) => !tokensBefore.has(f));
	// The database file itself, and with the -wal and -shm files that sit beside it while it is open.
	const bytes = (files, suffixes = [""]) =>
		files
			.flatMap((f) => suffixes.map((suffix) => `${f}${suffix}`))
			.reduce((sum, f) => sum + (readIfThere(f)?.length ?? 0), 0);
	const sizes = (files) => `${kb(bytes(files))}; ${kb(bytes(files, ["", "-wal", "-shm"]))} with -wal/-shm`;
	const tables = await tablesIn([...newPackages, ...newTokens]);
	report(
		"6",
		"100 anonymous GETs of never-seen names (10 of them again), 20 random bad tokens; SQLite files of the state's DO folder counted before/after",
		"100 GETs added 100 SQLite files (12.8 MB); bad tokens added token databases; first probe 37–45 ms, 8–13 ms after",
		`GETs: ${runs(statuses)} on repeat; +${newPackages.length} package SQLite files (${sizes(newPackages)}); ` +
			`bad tokens ${runs(bogus)}: +${newTokens.length} token SQLite files (${sizes(newTokens)}); tables inside all new files: ${tables}; ` +
			`first probe median ${ms(median(first))}, repeat median ${ms(median(second))}`,
		// The issue's bar: a read of a name or token that does not exist writes nothing (no tables, no
		// rows). The local runtime (workerd) still keeps an empty 4 KB file for every object it
		// instantiated, whether or not it touched its storage: reported above, not written by the registry.
		tables === 0 && statuses.every((status) => status === 404) && bogus.every((status) => status === 401),
	);
}

// 7. User enumeration: npm login for an existing and an unknown name (with and without email),
//    timed; and the user document as a customer key and as another user read it.
async function item7() {
	const grace = await createUser(unique("grace"));
	const hank = await createUser(unique("hank"));
	const graceToken = (await npmLogin(grace.name, grace.password)).json.token;
	const hankToken = (await npmLogin(hank.name, hank.password)).json.token;
	const customer = (await admin("/-/admin/tokens", "POST", { kind: "customer", name: "web page", grants: [] })).json
		.token;
	const docPath = `/-/user/org.couchdb.user:${grace.name}`;
	const asCustomer = await http(docPath, { token: customer });
	const asOther = await http(docPath, { token: hankToken });
	const asSelf = await http(docPath, { token: graceToken });

	const ghost = unique("ghost");
	const answers = { known: [], unknown: [] };
	for (let round = 0; round < 5; round++) {
		for (const [who, name] of [
			["known", grace.name],
			["unknown", ghost],
		]) {
			for (const email of [undefined, "x@example.com"]) {
				const res = await npmLogin(name, "not-the-password", { from: "127.0.0.7", email });
				// Retry-After seconds may differ by one between two lockouts a few milliseconds apart.
				answers[who].push({ answer: `${res.status} ${res.text.replace(/\d+/g, "N")}`, ms: res.ms });
			}
		}
	}
	const same = answers.known.every((a, i) => a.answer === answers.unknown[i].answer);
	const statuses = answers.known.map((a) => Number(a.answer.slice(0, 3)));
	const timing = (list) => ms(median(list.filter((a) => a.answer.startsWith("401")).map((a) => a.ms)));
	report(
		"7",
		"npm login (PUT /-/user/org.couchdb.user:X) with a wrong password for an existing vs an unknown name, ×10 each; GET the user document with a blk_ key and another user's token",
		"403 unknown vs 401 existing (14 vs 45 ms), no rate limit; a blk_ key read any user's email",
		`existing and unknown answered alike every time: ${same} (${runs(statuses)}); median 401 existing ${timing(answers.known)}, unknown ${timing(answers.unknown)}; ` +
			`user document: blk_ key ${asCustomer.status}, other user ${asOther.status} email ${asOther.json?.email === undefined ? "hidden" : "SHOWN"}, ` +
			`self ${asSelf.status} email ${asSelf.json?.email ? "shown" : "missing"}`,
		same &&
			statuses.includes(429) &&
			asCustomer.status === 404 &&
			asOther.status === 200 &&
			asOther.json?.email === undefined &&
			asSelf.json?.email === `${grace.name}@example.com`,
	);
}

// 8. Manifest confusion: the document says no dependencies and no scripts; the tarball's
//    package.json has a postinstall script and an extra dependency.
async function item8() {
	const name = unique("confused");
	const token = await createToken([{ package: name, permissions: ALL }]);
	const tgz = await tarball({
		"package.json": JSON.stringify({
			name,
			version: "1.0.0",
			dependencies: { "left-pad": "^1.0.0" },
			scripts: { postinstall: "node steal.js" },
		}),
		"index.js": "",
		"steal.js": "",
	});
	const document = publishDocument(name, "1.0.0", tgz, { manifest: { dependencies: {}, scripts: {} } });
	const publish = await putDocument(name, document, token);
	const abbreviated = await http(`/${name}`, {
		token,
		headers: { accept: "application/vnd.npm.install-v1+json" },
	});
	const version = abbreviated.json?.versions?.["1.0.0"] ?? {};
	report(
		"8",
		"npm publish whose document says dependencies {} and scripts {} around a tarball with left-pad and a postinstall",
		"document's version stored: no hasInstallScript, wrong dependencies in the abbreviated packument",
		`publish ${publish.status}; abbreviated packument: dependencies ${JSON.stringify(version.dependencies)}, hasInstallScript ${version.hasInstallScript}`,
		publish.status === 201 && version.dependencies?.["left-pad"] === "^1.0.0" && version.hasInstallScript === true,
	);
}

// 9. Secrets in the audit trail: a failed DELETE /-/npm/v1/tokens/token/{token} carrying a valid
//    token in its path; a 5,000-character path in a failed request.
async function item9() {
	const since = new Date().toISOString();
	const victim = await createToken([]);
	const res = await http(`/-/npm/v1/tokens/token/${victim}`, {
		method: "DELETE",
		token: `dev_${"e".repeat(64)}`,
		from: "127.0.0.9",
	});
	await http(`/-/admin/scopes/@${"x".repeat(5000)}`, {
		method: "PUT",
		token: `dev_${"d".repeat(64)}`,
		from: "127.0.0.9",
	});
	const entries = await registryAudit(since);
	const text = JSON.stringify(entries);
	const longest = Math.max(0, ...entries.filter((e) => e.action === "auth.failed").map((e) => e.target?.length ?? 0));
	const onDisk = filesContaining(victim);
	const stillWorks = await http("/-/whoami", { token: victim });
	report(
		"9",
		"DELETE /-/npm/v1/tokens/token/{a valid token} with a bad token; a failed request with a 5,000-char path; then the audit API and the state files searched for the token",
		"the full, still valid target token written into the audit log",
		`${res.status}; victim token in audit rows: ${text.includes(victim) || text.includes(victim.slice(0, 24)) ? "YES" : "no"}, ` +
			`in state files: ${onDisk}; longest auth.failed target ${longest} chars; victim token still works: ${stillWorks.status}`,
		res.status === 401 &&
			!text.includes(victim.slice(0, 24)) &&
			onDisk === 0 &&
			longest > 0 &&
			longest <= 260 &&
			entries.some((e) => e.action === "auth.failed"),
	);
}

// 10. A token with only `upload` creates a package as public.
async function item10() {
	const scope = scopeName("up");
	const uploader = await createToken([{ scope, permissions: ["read", "upload"] }]);
	const bundle = await tarball({ "index.js": "export default 1;\n" });
	const refused = await http(`/packages/${scope}/a/upload?access=public`, {
		method: "POST",
		token: uploader,
		body: bundle,
	});
	const plain = await http(`/packages/${scope}/a/upload`, { method: "POST", token: uploader, body: bundle });
	const anonymous = await http(`/${scope}%2fa`);
	const publisher = await createToken([{ scope, permissions: ALL }]);
	const open = await http(`/packages/${scope}/b/upload?access=public`, {
		method: "POST",
		token: publisher,
		body: bundle,
	});
	const anonymousOpen = await http(`/${scope}%2fb`);
	report(
		"10",
		"POST /packages/{new}/upload?access=public with a read+upload token",
		"an upload-only token created a public package",
		`upload-only with access=public ${refused.status}; without ${plain.status}, anonymous read ${anonymous.status}; ` +
			`publisher with access=public ${open.status}, anonymous read ${anonymousOpen.status}`,
		refused.status === 403 &&
			plain.status === 201 &&
			anonymous.status === 404 &&
			open.status === 201 &&
			anonymousOpen.status === 200,
	);
}

// 11. Unhandled 500s, and bytes left in R2 by failed publishes.
async function item11() {
	const nul = await http("/-/v1/search?text=a%00b");
	const far = await http("/-/v1/search?text=a&from=1e20");
	const name = unique("deep");
	const token = await createToken([{ package: name, permissions: ALL }]);
	const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
	const nested = await http(`/${name}`, {
		method: "PUT",
		token,
		body: `{"name":"${name}","versions":{},"x":${deep}}`,
	});
	const readme = `# big\n${"lorem ipsum ".repeat(1_100_000)}`;
	const big = await npmPublish(name, "1.0.0", token, { files: { "README.md": readme } });
	const packument = await http(`/${name}`, { token });
	const ivy = await createUser(unique("ivy"));
	const login = (await npmLogin(ivy.name, ivy.password)).json.token;
	const expires = await npmTokenCreate(login, { password: ivy.password, expires: 1e12 });

	const before = r2Objects();
	const again = [];
	for (let i = 0; i < 3; i++) again.push((await npmPublish(name, "1.0.0", token)).status);
	const race = await Promise.all([npmPublish(name, "2.0.0", token), npmPublish(name, "2.0.0", token)]);
	const added = r2Objects() - before;
	const statuses = [nul, far, nested, big, expires, ...race].map((r) => r.status);
	report(
		"11",
		"search text with NUL, from=1e20, a document nested 100,000 deep, a 13 MB README, token create expires 1e12; 3 republishes of 1.0.0 and 2 concurrent publishes of 2.0.0, R2 objects counted",
		"500s for each; three failed publishes left six R2 objects behind",
		`NUL ${nul.status}, from=1e20 ${far.status}, 100,000 deep ${nested.status}, 13 MB README ${big.status} ` +
			`(packument readme ${kb(packument.json?.readme?.length ?? 0)}), expires 1e12 ${expires.status}; ` +
			`republishes ${runs(again)}, race ${runs(race.map((r) => r.status).sort())}: +${added} R2 objects (2 = the one version stored)`,
		!statuses.includes(500) &&
			nul.status === 200 &&
			far.status === 400 &&
			nested.status === 400 &&
			big.status === 201 &&
			packument.json?.readme?.length === 256 * 1024 &&
			expires.status === 400 &&
			again.every((s) => s >= 400 && s < 500) &&
			race.filter((r) => r.status === 201).length === 1 &&
			added === 2,
	);
}

// 12. With PUBLIC_URL unset, Host and X-Forwarded-Proto choose the URLs inside cached answers:
//     read every cached document with a forged Host, then as an ordinary client.
async function item12() {
	const name = unique("poison");
	const token = await createToken([{ package: name, permissions: ALL }]);
	await npmPublish(name, "1.0.0", token, { access: "public" });
	await http(`/packages/${name}/channels/stable`, { method: "POST", token, body: { version: "1.0.0" } });
	const paths = [
		[`/${name}`, {}],
		[`/${name}`, { accept: "application/vnd.npm.install-v1+json" }],
		[`/${name}/1.0.0`, {}],
		[`/packages/${name}/channels/stable`, {}],
		[`/packages/${name}/channels/stable/importmap`, {}],
	];
	const evil = "evil.example";
	const poisoned = [];
	for (const [path, headers] of paths) {
		poisoned.push(await rawGet(path, { ...headers, host: evil, "x-forwarded-proto": "https" }));
	}
	const victims = [];
	for (const [path, headers] of paths) victims.push(await http(path, { headers }));
	const carried = poisoned.filter((r) => r.text.includes(evil)).length;
	const leaked = victims.filter((r) => r.text.includes(evil)).length;
	const own = victims.filter((r) => r.status === 200 && r.text.includes(R)).length;
	report(
		"12",
		"GET packument (full, abbreviated), version, channel lookup, import map with Host: evil.example and X-Forwarded-Proto: https; then the same as an ordinary client",
		"Host and X-Forwarded-Proto decided URLs in packuments, channel views and import maps: cache poisoning",
		`forged requests: ${runs(poisoned.map((r) => r.status))}, ${carried} of 5 answers name the forged origin (to the forger only); ` +
			`ordinary client right after: ${runs(victims.map((r) => r.status))}, ${own} of 5 name ${R}, ${leaked} name the forged origin`,
		leaked === 0 && own === paths.length,
	);
}

// 13. The rest: TOTP seeds at rest, token prefixes in public history, the audit route of an
//     unpublished package, a package named `health`, a padded capability URL.
async function item13() {
	const kim = await createUser(unique("kim"));
	const secret = await enrolTotp(kim.name);
	const seedOnDisk = filesContaining(secret);
	const sealedOnDisk = filesContaining("sealed:v1:");
	const codeWorks = await npmLogin(kim.name, kim.password, { otp: totp(secret) });
	report(
		"13a",
		"enrol TOTP, then search every file of the state's DO folder for the base32 seed",
		"TOTP secrets stored in plain text",
		`seed found in ${seedOnDisk} files; files holding sealed seeds: ${sealedOnDisk}; npm login with a code ${codeWorks.status}`,
		seedOnDisk === 0 && sealedOnDisk > 0 && codeWorks.status === 201,
	);

	const name = unique("history");
	const token = await createToken([{ package: name, permissions: ALL }]);
	await npmPublish(name, "1.0.0", token, { access: "public" });
	const anonymous = await http(`/packages/${name}/channels/latest/history`);
	const publisher = await http(`/packages/${name}/channels/latest/history`, { token });
	const prefix = /dev_[0-9a-f]{8}/;
	report(
		"13b",
		"GET a public channel's history anonymously and as its publisher",
		"anonymous readers saw publisher token prefixes",
		`anonymous ${anonymous.status}, token prefix shown: ${prefix.test(anonymous.text)}; publisher ${publisher.status}, shown: ${prefix.test(publisher.text)}`,
		anonymous.status === 200 && !prefix.test(anonymous.text) && prefix.test(publisher.text),
	);

	const gone = unique("gone");
	const goneToken = await createToken([{ package: gone, permissions: ALL }]);
	await npmPublish(gone, "1.0.0", goneToken, { access: "public" });
	const rev = (await http(`/${gone}?write=true`, { token: goneToken })).json._rev;
	const unpublished = await http(`/${gone}/-rev/${rev}`, { method: "DELETE", token: goneToken });
	const reader = await createToken([{ package: gone, permissions: ["read"] }]);
	const asReader = await http(`/packages/${gone}/audit`, { token: reader });
	const asPublisher = await http(`/packages/${gone}/audit`, { token: goneToken });
	report(
		"13c",
		"npm unpublish a whole package, then GET its audit route with a read token",
		"403 (tells the package existed) instead of 404",
		`unpublish ${unpublished.status}; audit as reader ${asReader.status}, as publisher ${asPublisher.status}`,
		unpublished.status === 200 && asReader.status === 404 && asPublisher.status === 200,
	);

	const health = await npmPublish("health", "1.0.0", ADMIN, { access: "public" });
	const healthRoute = await http("/health");
	report(
		"13d",
		"npm publish a package named health (as admin)",
		"accepted, then shadowed by /health",
		`publish ${health.status} ("${health.json?.error}"); /health still ${healthRoute.status} ${healthRoute.text}`,
		health.status === 400 && healthRoute.json?.status === "ok",
	);

	const scope = scopeName("cap");
	const widget = `${scope}/w`;
	const capToken = await createToken([{ scope, permissions: ALL }]);
	await npmPublish(widget, "1.0.0", capToken);
	await http(`/packages/${widget}/channels/stable`, { method: "POST", token: capToken, body: { version: "1.0.0" } });
	const lookup = await http(`/packages/${widget}/channels/stable`, { token: capToken });
	const path = new URL(lookup.json.index).pathname;
	const canonical = await http(path);
	const paddedUrl = await http(path.replace(/\/~([^/]+)\//, "/~$1=/"));
	report(
		"13e",
		"GET a restricted version's file by its capability URL, and with the capability padded (=)",
		"a padded spelling was accepted too",
		`canonical ${canonical.status}, padded ${paddedUrl.status}`,
		canonical.status === 200 && paddedUrl.status === 404,
	);
}

// ── the items of issue #22 about reads and pages (1, 6, 7, 8, 9, 12) ───────────────────────────

const metrics = async () => (await admin("/-/admin/metrics")).json;
const colocacheBytes = () =>
	filesUnder(join(statePath, "v3", "cache")).reduce((sum, file) => sum + (readIfThere(file)?.byteLength ?? 0), 0);

/** A form post as the registry's own page sends it (Origin: the registry), answered without following redirects. */
async function formPost(path, form, cookie) {
	const res = await fetch(`${R}${path}`, {
		method: "POST",
		redirect: "manual",
		headers: {
			"content-type": "application/x-www-form-urlencoded",
			origin: new URL(R).origin,
			...(cookie ? { cookie } : {}),
		},
		body: new URLSearchParams(form),
	});
	await res.arrayBuffer();
	return { status: res.status, location: res.headers.get("location"), cookie: res.headers.get("set-cookie") ?? "" };
}
const cookiePair = (setCookie) => setCookie.split(";")[0] ?? "";
const signedInAs = async (cookie) => (await http("/", { headers: { cookie } })).text.includes("Signed in as");

/** Publishes a package and waits until the search index (fed from the package's alarm) finds it. */
async function publishedAndIndexed(name, token, access) {
	await npmPublish(name, "1.0.0", token, { access, manifest: { keywords: [name] } });
	for (let i = 0; i < 150; i++) {
		const found = await http(`/-/v1/search?text=${name}`, { token: ADMIN, headers: { "cache-control": "no-cache" } });
		if (found.json?.objects?.some((o) => o.package.name === name)) return;
		await sleep(200);
	}
	throw new Error(`${name} never reached the search index`);
}

// 22.1 The read tier's keys held the whole query string and its memory count ignored them: unique
//      long packument and search queries, anonymously. 14 KB: npm start's edge, as Cloudflare's,
//      refuses a request line much longer (the review's 60 KB went to wrangler's own port).
async function item22_1() {
	const name = unique("keys");
	const token = await createToken([{ package: name, permissions: ALL }]);
	await publishedAndIndexed(name, token, "public");
	await http(`/${name}`);
	await http(`/-/v1/search?text=${name}`);
	const before = (await metrics()).memory;
	const cacheBefore = colocacheBytes();
	const outcomes = [];
	for (let i = 0; i < 500; i++) {
		const res = await http(`/${name}?${i}=${"q".repeat(14_000)}`);
		outcomes.push(res.status === 200 ? res.headers.get("x-registry-cache") : String(res.status));
	}
	for (let i = 0; i < 500; i++) {
		const res = await http(`/-/v1/search?junk=${i}${"s".repeat(14_000)}&text=${name}`);
		outcomes.push(res.status === 200 ? res.headers.get("x-registry-cache") : String(res.status));
	}
	const middle = (await metrics()).memory;
	// Text that is read (its first 1,000 characters) is an entry of its own each time: counted, bounded.
	for (let i = 0; i < 500; i++) await http(`/-/v1/search?text=${i}${"t".repeat(14_000)}`);
	const after = (await metrics()).memory;
	const cacheGrowth = colocacheBytes() - cacheBefore;
	// Past READ_CACHE_SECONDS the one entry is revalidated (packument) or read again (search, which
	// has no revision): the same entry each time, never a new one.
	const answered = outcomes.filter((o) => o === "hit" || o === "revalidated" || o === "miss").length;
	report(
		"22.1",
		"500 anonymous packument reads with unique 14 KB query strings, 500 searches with a unique 14 KB unused parameter, 500 searches with unique 14 KB text",
		"1,500 packument reads: V8 heap 5.9 → 98.8 MB while the tier counted 3.6 MB; 4,000 searches: 99 → 217 MB; colo-cache folder +516 MB",
		`${answered} of 1,000 junk-parameter reads answered 200 (${runs(outcomes)}); tier memory ${before.entries} entries/${kb(before.bytes)} → ${middle.entries}/${kb(middle.bytes)} after them; ` +
			`after 500 unique long texts ${after.entries} entries/${kb(after.bytes)} counted (keys included, budget 16 MB); colo-cache folder +${kb(cacheGrowth)}`,
		answered === 1_000 &&
			middle.entries === before.entries &&
			after.bytes <= 16 * 1024 * 1024 &&
			cacheGrowth < 50 * 1024 * 1024,
	);
}

// 22.6 Sign-in's `next` with control characters: a tab (off-site after the browser strips it), CR
//      and LF (a 500, and a minted login token left behind), `//` and `/\`.
async function item22_6() {
	const token = await createToken([]);
	const hostile = [
		"/\t/evil.example/x",
		"/\n/evil.example/x",
		"/\r/evil.example/x",
		"//evil.example",
		"/\\evil.example",
	];
	const form = (await http(`/-/signin?next=${encodeURIComponent(hostile[0])}`)).text;
	const offered = [...form.matchAll(/name="next" value="([^"]*)"/g)].map((m) => m[1]);
	const withToken = [];
	for (const next of hostile) withToken.push(await formPost("/-/signin", { token, next }));
	const user = await createUser(unique("next"));
	const withPassword = [];
	for (const next of ["/\r\nx", "/\nx"]) {
		withPassword.push(await formPost("/-/signin", { name: user.name, password: user.password, next }));
	}
	const live = (await admin(`/-/admin/tokens?user=${user.name}`)).json.tokens.filter((t) =>
		t.name.endsWith("(web session)"),
	).length;
	for (const res of withPassword) await formPost("/-/signout", {}, cookiePair(res.cookie));
	const left = (await admin(`/-/admin/tokens?user=${user.name}`)).json.tokens.filter((t) =>
		t.name.endsWith("(web session)"),
	).length;
	const locations = [...withToken, ...withPassword].map((r) => `${r.status} ${JSON.stringify(r.location)}`);
	report(
		"22.6",
		"sign in (token, then password) with next = /%09/evil.example/x, %0a, %0d, //evil, /\\evil, and CRLF; the form's hidden next for ?next=/%09/…",
		"Location: /<TAB>/evil.example/x; %0a/%0d answered 500 and a password sign-in left its 8-hour login token",
		`form offers next ${JSON.stringify(offered)}; answers ${runs(locations)}; login tokens ${live} while signed in (one per session), ${left} after signing out`,
		offered.every((v) => v === "/") &&
			[...withToken, ...withPassword].every((r) => r.status === 303 && r.location === "/") &&
			live === withPassword.length &&
			left === 0,
	);
}

// 22.7 Sign-out did not end a session signed in with a pasted token: a copy of the cookie replayed.
async function item22_7() {
	const token = await createToken([]);
	const signIn = await formPost("/-/signin", { token, next: "/" });
	const copy = cookiePair(signIn.cookie);
	const before = await signedInAs(copy);
	const out = await formPost("/-/signout", {}, copy);
	const replayed = await signedInAs(copy);
	const api = (await http("/-/whoami", { token })).status;
	report(
		"22.7",
		"sign in with a pasted token, keep a copy of the cookie, sign out, replay the copy",
		"the copy stayed signed in until it expired (8 hours)",
		`signed in before: ${before}; sign-out ${out.status}; copy replayed: ${replayed ? "signed in" : "signed out"}; the token itself on the API: ${api}`,
		before && out.status === 303 && !replayed && api === 200,
	);
}

// 22.8 Search kept results for a grant just removed.
async function item22_8() {
	const name = unique("ungrant");
	const publisher = await createToken([{ package: name, permissions: ALL }]);
	await publishedAndIndexed(name, publisher, "restricted");
	const reader = await admin("/-/admin/tokens", "POST", {
		kind: "developer",
		name: "reader",
		grants: [
			{ package: name, permissions: ["read"] },
			{ package: unique("other"), permissions: ["read"] },
		],
	});
	const sees = async () =>
		(await http(`/-/v1/search?text=${name}`, { token: reader.json.token })).text.includes(`"${name}"`);
	const page = async () =>
		(await http(`/search?q=${name}`, { token: reader.json.token })).text.includes(`>${name}</a>`);
	const before = [await sees(), await sees(), await page()];
	const ungrant = await admin(`/-/admin/tokens/${reader.json.id}/grants`, "DELETE", { package: name });
	const after = [await sees(), await page()];
	report(
		"22.8",
		"a token with a read grant searches a restricted package (API and page), the grant is removed, it searches again at once",
		"a hit for up to 5 s after the ungrant (search entries carried no owner)",
		`before: API ${before[0]}/${before[1]} (miss, hit), page ${before[2]}; ungrant ${ungrant.status}; right after: API ${after[0]}, page ${after[1]}`,
		before.every(Boolean) && ungrant.status === 200 && !after.some(Boolean),
	);
}

// 22.9 A timing difference told whether a restricted package exists (anonymous 404s answered from
//      isolate memory). Compared by the object calls each refusal makes; timings are evidence only.
async function item22_9() {
	const name = unique("hidden");
	const token = await createToken([{ package: name, permissions: ALL }]);
	await npmPublish(name, "1.0.0", token, { access: "restricted" });
	const missing = unique("absent");
	const routes = [
		["packument", (n) => `/${n}`],
		["tarball", (n) => `/${n}/-/${n}-1.0.0.tgz`],
		["page", (n) => `/package/${n}`],
	];
	const parts = [];
	let same = true;
	for (const [route, path] of routes) {
		await http(path(name), { token }); // the publisher's read: the answer is in isolate memory
		const calls = async (n) => {
			const before = (await metrics()).objectCalls;
			const res = await http(path(n));
			const after = (await metrics()).objectCalls;
			const delta = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]]));
			return { status: res.status, body: res.text.replaceAll(n, "NAME"), delta: JSON.stringify(delta) };
		};
		const hidden = await calls(name);
		const absent = await calls(missing);
		const times = { hidden: [], absent: [] };
		for (let i = 0; i < 100; i++) {
			times.hidden.push((await http(path(name))).ms);
			times.absent.push((await http(path(missing))).ms);
		}
		const equal =
			hidden.status === 404 && absent.status === 404 && hidden.delta === absent.delta && hidden.body === absent.body;
		same &&= equal;
		parts.push(
			`${route}: ${hidden.status}/${absent.status}, calls ${hidden.delta === absent.delta ? "equal" : `${hidden.delta} vs ${absent.delta}`} (${JSON.parse(hidden.delta).package} package), bodies ${hidden.body === absent.body ? "equal" : "differ"}, median ${ms(median(times.hidden))} vs ${ms(median(times.absent))}`,
		);
	}
	report(
		"22.9",
		"anonymous packument, tarball and page of a restricted package whose answers sit in isolate memory, against a missing name (object calls from /-/admin/metrics, 100 timed each)",
		"packument 404 ~1 ms faster when the package was in isolate memory (answered without its object); tarball and page 404s 0.5–0.9 ms slower",
		parts.join("; "),
		same,
	);
}

// 22.12 `$` patterns in a token's name duplicated page content (String.replace patterns).
async function item22_12() {
	const created = await admin("/-/admin/tokens", "POST", { kind: "developer", name: "x $` $' $& y", grants: [] });
	const page = (await http("/", { token: created.json.token })).text;
	const documents = page.split("<!doctype html>").length - 1;
	report(
		"22.12",
		"a token named x $` $' $& y opens the home page",
		"$` and $' spliced the page around the account slot into it (duplicated content)",
		`${documents} document(s) in the answer; name shown as ${JSON.stringify(/Signed in as <strong>([^<]*)</.exec(page)?.[1] ?? null)}`,
		documents === 1 && page.includes("x $` $&#39; $&amp; y"),
	);
}

/** Issue #22's items about reads and pages, run after issue #9's. */
const READ_ITEMS = [item22_1, item22_6, item22_7, item22_8, item22_9, item22_12];

// ── the registry, as `npm start` runs it ───────────────────────────────────────────────────────

function freePort() {
	return new Promise((done) => {
		const server = createServer().listen(0, "127.0.0.1", () => {
			const { port } = server.address();
			server.close(() => done(port));
		});
	});
}

/** `extra`: vars for this registry; `label`: a state and secrets of its own (a second registry). */
async function startRegistry(extra = {}, label = null) {
	const port = await freePort();
	const state = label ? join(temp, `state-${label}`) : statePath;
	const secretsFile = label ? join(temp, `dev-${label}.vars`) : devVars;
	// The registry makes its own secrets in the temp DEV_VARS file and runs with wrangler.jsonc's
	// vars (PUBLIC_URL unset, for item 12): none of them may come from this shell's environment.
	const config = readFileSync(join(root, "wrangler.jsonc"), "utf8");
	const vars = [...config.slice(config.indexOf('"vars"')).matchAll(/^\s*"([A-Z_]+)":/gm)].map((m) => m[1]);
	const inherited = Object.entries(process.env).filter(
		([k]) => !/^npm_/i.test(k) && !SECRETS.includes(k) && !vars.includes(k),
	);
	const child = spawn("npm", ["start"], {
		cwd: root,
		env: {
			...Object.fromEntries(inherited),
			PATH: `${join(root, "node_modules", ".bin")}:${process.env.PATH}`,
			PORT: String(port),
			HOST: "0.0.0.0",
			PERSIST_TO: state,
			DEV_VARS: secretsFile,
			...extra,
		},
		stdio: ["ignore", "pipe", "pipe"],
		detached: true,
	});
	let output = "";
	child.stdout.on("data", (c) => {
		output += c;
	});
	child.stderr.on("data", (c) => {
		output += c;
	});
	const url = `http://127.0.0.1:${port}`;
	const answers = () =>
		fetch(`${url}/-/ping`).then(
			(res) => res.ok,
			() => false,
		);
	for (let i = 0; i < 480; i++) {
		if (child.exitCode !== null) throw new Error(`npm start exited:\n${output}`);
		if (await answers()) {
			const admin = /^ADMIN_TOKEN=(\S+)$/m.exec(readFileSync(secretsFile, "utf8"))?.[1];
			if (!admin) throw new Error(`npm start wrote no ADMIN_TOKEN to ${secretsFile}`);
			return { url, admin, child, output: () => output, statePath: state };
		}
		await sleep(250);
	}
	throw new Error(`npm start did not answer:\n${output}`);
}

async function stopRegistry(child) {
	if (child.exitCode !== null) return;
	const exited = new Promise((done) => child.once("exit", done));
	process.kill(-child.pid, "SIGTERM");
	await Promise.race([exited, sleep(10_000)]);
	if (child.exitCode === null) process.kill(-child.pid, "SIGKILL");
}

/** Thrown to end the run early when only some items were asked for. */
class Finished extends Error {}

const ITEMS = [
	item1,
	item2,
	item3,
	item4,
	item5a,
	item5b,
	item5c,
	item5d,
	item6,
	item7,
	item8,
	item9,
	item10,
	item11,
	item12,
	item13,
];

// ATTACK_REVIEW_ONLY=22-upstream runs issue #22's upstream and publishing items alone
// (22-parallel: only the parallel publishes of #22.4).
const ONLY = process.env.ATTACK_REVIEW_ONLY ?? "";
let registry = null;
try {
	if (ONLY === "" || ONLY === "22-upstream" || ONLY === "22-parallel") {
		const t0 = performance.now();
		try {
			await upstreamReview({
				start: startRegistry,
				stop: stopRegistry,
				report,
				only: ONLY === "22-parallel" ? "parallel" : "",
				largeBody: async (name, megabytes) => {
					const tgz = await tarball({
						"package.json": JSON.stringify({ name, version: "1.0.0", main: "index.js" }),
						"index.js": "module.exports = 1;\n",
						"blob.bin": randomBytes(megabytes * 1024 * 1024),
					});
					return JSON.stringify(publishDocument(name, "1.0.0", tgz, { access: "public" }));
				},
			});
		} catch (error) {
			process.stderr.write(`#22 upstream items: ${error.stack ?? error}\n`);
			report("22", "(the script failed)", "", `error: ${error.message ?? error}`, false);
		}
		process.stderr.write(`#22 upstream items done in ${ms(performance.now() - t0)}\n`);
	}
	if (ONLY === "22-upstream" || ONLY === "22-parallel") throw new Finished();
	registry = await startRegistry();
	R = registry.url;
	ADMIN = registry.admin;
	const ready = performance.now();
	process.stderr.write(`registry up at ${R} after ${ms(ready - started)} (state in ${statePath})\n`);
	// `npm run attack-review -- 22.1 22.7` runs only those items (by the number in their name).
	const only = process.argv.slice(2).map((arg) => `item${arg.replaceAll(".", "_")}`);
	for (const item of [...ITEMS, ...READ_ITEMS].filter((i) => only.length === 0 || only.includes(i.name))) {
		const t0 = performance.now();
		try {
			await item();
		} catch (error) {
			process.stderr.write(`${item.name}: ${error.stack ?? error}\n`);
			report(item.name.replace("item", ""), "(the script failed)", "", `error: ${error.message ?? error}`, false);
		}
		process.stderr.write(`${item.name} done in ${ms(performance.now() - t0)}\n`);
	}
} catch (error) {
	if (!(error instanceof Finished)) throw error;
} finally {
	if (registry) await stopRegistry(registry.child);
	for (const agent of agents.values()) await agent.close();
	rmSync(temp, { recursive: true, force: true });
}
printTable();
const failed = rows.filter((r) => !r.pass).length;
console.log(`\n${rows.length - failed} PASS, ${failed} FAIL; total run time ${ms(performance.now() - started)}`);
process.exitCode = failed === 0 ? 0 : 1;
