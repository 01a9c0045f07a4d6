import { createExecutionContext, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import * as OTPAuth from "otpauth";
import { describe, expect, it } from "vitest";
import { person } from "../durable-objects/package/search-document";
import { parseConfig } from "../schema/config";
import { router } from "../worker/router";
import {
	ADMIN,
	ALL,
	call,
	createToken,
	publish,
	publishBody,
	publisherFor,
	readPackument,
	uniqueName,
	userWithToken,
} from "./helpers/registry";
import { checksums, gzipBomb, gzipTar } from "./helpers/tarball";

// Regression tests for the adversarial review (issue #9): one block per finding, named after it,
// through the real HTTP surface. Nothing here times anything: a hostile input either finishes
// inside the test's ordinary timeout or the test fails.

const json = (body: unknown) => JSON.stringify(body);
const admin = (path: string, method = "GET", body?: unknown) =>
	call(path, { method, token: ADMIN, ...(body === undefined ? {} : { body: json(body) }) });
const ip = (address: string) => ({ "cf-connecting-ip": address });
let addresses = 0;
/** An address no other test uses, so per-address limits never leak between tests. */
const freshAddress = () => `198.51.100.${++addresses}`;

async function auditOf(name: string): Promise<{ action: string; detail: Record<string, unknown> | null }[]> {
	const res = await admin(`/-/admin/audit?package=${encodeURIComponent(name)}`);
	return ((await res.json()) as { entries: { action: string; detail: Record<string, unknown> | null }[] }).entries;
}

async function registryAudit(since: string) {
	const res = await admin(`/-/admin/audit?since=${encodeURIComponent(since)}&limit=1000`);
	return ((await res.json()) as { entries: { action: string; target: string | null; detail: unknown }[] }).entries;
}

describe("#9.1 regex denial of service in the author parser", () => {
	it("parses a 100 KB hostile person string in one linear pass", () => {
		const hostile = `a${" ".repeat(100_000)}<`;
		expect(person(hostile)).toEqual({ name: "a" });
		expect(person(`${"(".repeat(50_000)}x<y@z>`)?.name.length).toBe(256);
		expect(person("Ann <ann@example.com> (https://ann.example)")).toEqual({ name: "Ann", email: "ann@example.com" });
		expect(person({ name: "x".repeat(100_000), email: "e@x" })?.name.length).toBeLessThanOrEqual(256);
	});

	it("publishes, indexes and searches a package whose author and description are hostile", async () => {
		const name = uniqueName("redos");
		const token = await publisherFor(name);
		const author = `a${" ".repeat(60_000)}<`;
		const res = await publish(name, "1.0.0", token, {
			manifest: { author, description: "d".repeat(100_000), keywords: Array(500).fill("k".repeat(500)) },
			access: "public",
		});
		expect(res.status).toBe(201);
		// The search delivery runs on the package object's alarm: it must finish, not hang.
		expect(await runDurableObjectAlarm(env.PACKAGES.get(env.PACKAGES.idFromName(name)))).toBe(true);
		const found = await call(`/-/v1/search?text=${name}`);
		const hit = ((await found.json()) as { objects: { package: { name: string; description: string } }[] }).objects[0];
		expect(hit?.package.name).toBe(name);
		expect(hit?.package.description.length).toBeLessThanOrEqual(1024);
	});
});

describe("#9.2 two-factor rule bypass", () => {
	async function scopeRequiringTwoFactor() {
		const scope = `@${uniqueName("tfa").replaceAll("-", "")}`;
		await admin(`/-/admin/scopes/${scope}`, "PUT", { requireTwoFactor: true });
		return scope;
	}

	it("refuses a bypass token to a user without TOTP, and every write of such a user in a 2FA scope", async () => {
		const scope = await scopeRequiringTwoFactor();
		const user = await userWithToken([{ scope, permissions: ALL }]);
		expect((await publish(`${scope}/lib`, "1.0.0", user.token)).status).toBe(403);
		const bypass = await call("/-/npm/v1/tokens", {
			method: "POST",
			token: user.token,
			body: json({ password: user.password, bypass_2fa: true }),
		});
		expect(bypass.status).toBe(403);
		expect(((await bypass.json()) as { error: string }).error).toMatch(/two-factor/);
		// A plain token of hers is refused in the scope too, and cannot turn the requirement off.
		const plain = await call("/-/npm/v1/tokens", {
			method: "POST",
			token: user.token,
			body: json({ password: user.password }),
		});
		const { token } = (await plain.json()) as { token: string };
		expect((await publish(`${scope}/lib`, "1.0.0", token)).status).toBe(403);
		const owned = `${scope}/owned`;
		expect((await publish(owned, "1.0.0", ADMIN)).status).toBe(201);
		const mfaOff = await call(`/-/package/${owned}/access`, {
			method: "POST",
			token,
			body: json({ publish_requires_tfa: false }),
		});
		expect(mfaOff.status).toBe(403);
	});

	it("does not let a read-only or restricted token mint a read-write one, password or not", async () => {
		const name = uniqueName("ro");
		const user = await userWithToken([{ package: name, permissions: ALL }]);
		const create = (token: string, body: unknown) =>
			call("/-/npm/v1/tokens", { method: "POST", token, body: json(body) });
		const readonly = (await (await create(user.token, { password: user.password, readonly: true })).json()) as {
			token: string;
		};
		const escalated = await create(readonly.token, { password: user.password });
		expect(escalated.status).toBe(403);
		const limited = (await (
			await create(user.token, {
				password: user.password,
				packages: [name],
				packages_and_scopes_permission: "read-write",
			})
		).json()) as { token: string };
		expect((await create(limited.token, { password: user.password })).status).toBe(403);
	});
});

describe("#9.3 the client's address", () => {
	it("takes CF-Connecting-IP as Cloudflare's edge sets it, for the audit trail and CIDR ranges", async () => {
		const since = new Date().toISOString();
		const address = freshAddress();
		const fenced = await call("/-/admin/tokens", {
			method: "POST",
			token: ADMIN,
			headers: ip(address),
			body: json({ kind: "developer", name: "fenced", grants: [], cidr: [`${address}/32`] }),
		});
		const { token } = (await fenced.json()) as { token: string };
		expect((await call("/-/whoami", { token, headers: ip(address) })).status).toBe(200);
		expect((await call("/-/whoami", { token, headers: ip(freshAddress()) })).status).toBe(403);
		const created = (await registryAudit(since)).find((e) => e.action === "token.create");
		expect(created).toMatchObject({ ip: address });
	});
});

describe("#9.3 the client's address under npm start on loopback", () => {
	// scripts/start.mjs on 127.0.0.1 or ::1: clients reach the Worker's own socket, no edge sets
	// CF-Connecting-IP, and LOCAL_CLIENT_ADDRESS names the one address they all have.
	const onLoopback = (path: string, init: RequestInit = {}) =>
		router.fetch(
			new Request(`http://registry.test${path}`, init),
			{ ...env, LOCAL_CLIENT_ADDRESS: "127.0.0.1" } as Env,
			createExecutionContext(),
		);

	it("is the loopback address whatever CF-Connecting-IP a client sends", async () => {
		const fence = async (cidr: string) => {
			const res = await admin("/-/admin/tokens", "POST", {
				kind: "developer",
				name: "fenced",
				grants: [],
				cidr: [cidr],
			});
			return ((await res.json()) as { token: string }).token;
		};
		const local = await fence("127.0.0.1/32");
		const remote = await fence("203.0.113.0/24");
		const whoami = (token: string) =>
			onLoopback("/-/whoami", { headers: { authorization: `Bearer ${token}`, ...ip("203.0.113.9") } });
		expect((await whoami(local)).status).toBe(200);
		expect((await whoami(remote)).status).toBe(403);
	});

	it("accepts only a loopback address, so no deployment can make every client one address", () => {
		expect(parseConfig({ LOCAL_CLIENT_ADDRESS: "127.0.0.1" }).localClientAddress).toBe("127.0.0.1");
		expect(parseConfig({ LOCAL_CLIENT_ADDRESS: "::1" }).localClientAddress).toBe("::1");
		for (const value of ["", "203.0.113.9", "0.0.0.0", "127.0.0.2", undefined]) {
			expect(parseConfig({ LOCAL_CLIENT_ADDRESS: value }).localClientAddress).toBeNull();
		}
	});
});

describe("#9.4 guessing one-time codes and passwords", () => {
	it("locks a user out after 10 wrong passwords, with Retry-After, and audits every failure", async () => {
		const since = new Date().toISOString();
		const user = await userWithToken([]);
		const login = (password: string, address: string) =>
			call(`/-/user/org.couchdb.user:${user.name}`, {
				method: "PUT",
				headers: ip(address),
				body: json({ name: user.name, password }),
			});
		const statuses: number[] = [];
		// From a fresh address each time: the per-user limit alone applies.
		for (let i = 0; i < 11; i++) statuses.push((await login("wrong-password", freshAddress())).status);
		expect(statuses.slice(0, 9).every((s) => s === 401)).toBe(true);
		expect(statuses[9]).toBe(429);
		const locked = await login(user.password, freshAddress());
		expect(locked.status).toBe(429);
		expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
		const failures = (await registryAudit(since)).filter((e) => e.action === "login.failed" && e.target === user.name);
		expect(failures.length).toBe(10);
	});

	it("locks an address out after 30 failures across users", async () => {
		const address = freshAddress();
		const statuses: number[] = [];
		for (let i = 0; i < 31; i++) {
			const name = uniqueName("spray");
			const res = await call(`/-/user/org.couchdb.user:${name}`, {
				method: "PUT",
				headers: ip(address),
				body: json({ name, password: "guess-guess" }),
			});
			statuses.push(res.status);
		}
		expect(statuses.slice(0, 29).every((s) => s === 401)).toBe(true);
		expect(statuses.slice(29)).toEqual([429, 429]);
	});

	it("locks a user out after 10 wrong one-time codes", async () => {
		const name = uniqueName("otp");
		const user = await userWithToken([{ package: name, permissions: ALL }]);
		const enabled = await admin(`/-/admin/users/${user.name}/totp`, "POST");
		const totp = OTPAuth.URI.parse(((await enabled.json()) as { otpauth: string }).otpauth) as OTPAuth.TOTP;
		const { body } = await publishBody(name, "1.0.0");
		const attempt = (otp: string) =>
			call(`/${name}`, {
				method: "PUT",
				token: user.token,
				headers: { "npm-otp": otp, ...ip(freshAddress()) },
				body: json(body),
			});
		const statuses: number[] = [];
		for (let i = 0; i < 10; i++) statuses.push((await attempt("000000")).status);
		expect(statuses.slice(0, 9).every((s) => s === 401)).toBe(true);
		expect(statuses[9]).toBe(429);
		expect((await attempt(totp.generate())).status).toBe(429);
	});
});

describe("#9.5 requests that stall the server", () => {
	it("refuses an oversized semver range before matching it", async () => {
		const name = uniqueName("range");
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const range = encodeURIComponent(Array(5_000).fill(">=1.0.0").join(" || "));
		const res = await call(`/${name}/${range}`, { token });
		expect(res.status).toBe(400);
		expect(((await res.json()) as { error: string }).error).toMatch(/version range/);
		expect((await call(`/${name}/${encodeURIComponent("^1.0.0 || ^2.0.0")}`, { token })).status).toBe(200);
	});

	it("refuses a publish with too many dist-tags, and a package with too many channels", async () => {
		const name = uniqueName("tags");
		const token = await publisherFor(name);
		const { body } = await publishBody(name, "1.0.0");
		const tags = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`t${i}`, "1.0.0"]));
		const many = await call(`/${name}`, { method: "PUT", token, body: json({ ...body, "dist-tags": tags }) });
		expect(many.status).toBe(400);
		expect((await publish(name, "1.0.0", token)).status).toBe(201);
		for (let i = 0; i < 99; i++) {
			const moved = await call(`/-/package/${name}/dist-tags/c${i}`, { method: "PUT", token, body: '"1.0.0"' });
			expect(moved.status).toBe(201);
		}
		const over = await call(`/-/package/${name}/dist-tags/one-too-many`, { method: "PUT", token, body: '"1.0.0"' });
		expect(over.status).toBe(409);
	});

	it("stops inflating a gzip bomb as soon as the unpacked limit is crossed", async () => {
		const name = uniqueName("bomb");
		const token = await publisherFor(name);
		// 200 MB of zeros in one file: about 200 KB of gzip, twice MAX_UNPACKED_SIZE.
		const tgz = await gzipBomb(json({ name, version: "1.0.0" }), 200 * 1024 * 1024);
		const res = await call(`/packages/${name}/upload`, { method: "POST", token, body: tgz });
		expect(res.status).toBe(413);
		expect(((await res.json()) as { error: string }).error).toMatch(/unpacks to more than/);
	});

	it("stops a gzip bomb that stays under the unpacked limit by how far it inflates", async () => {
		const name = uniqueName("bomb");
		const token = await publisherFor(name);
		// 64 MB of zeros (under MAX_UNPACKED_SIZE here) in about 64 KB of gzip: 1,000 times.
		const tgz = await gzipBomb(json({ name, version: "1.0.0" }), 64 * 1024 * 1024);
		const res = await call(`/packages/${name}/upload`, { method: "POST", token, body: tgz });
		expect(res.status).toBe(413);
		expect(((await res.json()) as { error: string }).error).toBe(
			"tarball unpacks to more than 100 times its compressed size",
		);
		expect((await call(`/packages/${name}/versions`, { token })).status).toBe(404);
	});

	it("refuses a tarball with more entries than MAX_TARBALL_ENTRIES", async () => {
		const name = uniqueName("entries");
		const token = await publisherFor(name);
		const files: Record<string, string> = { "index.js": "export default 1;" };
		for (let i = 0; i < 20_001; i++) files[`e/${i}`] = "";
		const res = await call(`/packages/${name}/upload`, { method: "POST", token, body: await gzipTar(files) });
		expect(res.status).toBe(413);
		expect(((await res.json()) as { error: string }).error).toMatch(/more than 20000 entries/);
	});
});

describe("#9.6 anonymous storage growth", () => {
	it("creates no tables for a package name that was only read, nor for a token nobody issued", async () => {
		const name = uniqueName("probe");
		expect((await call(`/${name}`)).status).toBe(404);
		expect((await call(`/${name}/-/${name}-1.0.0.tgz`)).status).toBe(404);
		expect((await call(`/packages/${name}/channels/stable`)).status).toBe(404);
		const tables = (namespace: DurableObjectNamespace, key: string) =>
			runInDurableObject(
				namespace.get(namespace.idFromName(key)),
				(_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master").one().n,
			);
		expect(await tables(env.PACKAGES, name)).toBe(0);
		const bogus = `dev_${"b".repeat(64)}`;
		expect((await call("/-/whoami", { token: bogus })).status).toBe(401);
		const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(bogus))).toHex();
		expect(await tables(env.TOKENS, hash)).toBe(0);
	});
});

describe("#9.7 user enumeration", () => {
	it("answers an unknown user and a wrong password alike, signup off, email or not", async () => {
		const user = await userWithToken([]);
		const attempt = (name: string, email?: string) =>
			call(`/-/user/org.couchdb.user:${name}`, {
				method: "PUT",
				headers: ip(freshAddress()),
				body: json({ name, password: "not-the-password", ...(email ? { email } : {}) }),
			});
		const answers = await Promise.all([
			attempt(user.name),
			attempt(user.name, "x@example.com"),
			attempt(uniqueName("ghost")),
			attempt(uniqueName("ghost"), "x@example.com"),
		]);
		const bodies = await Promise.all(answers.map(async (res) => `${res.status} ${await res.text()}`));
		expect(new Set(bodies).size).toBe(1);
		expect(bodies[0]).toMatch(/^401 /);
	});

	it("shows a user's document whole only to that user and to admins", async () => {
		const alice = await userWithToken([]);
		const bob = await userWithToken([]);
		const doc = async (token: string) => {
			const res = await call(`/-/user/org.couchdb.user:${alice.name}`, { token });
			return { status: res.status, body: (await res.json()) as { name?: string; email?: string } };
		};
		expect((await doc(alice.token)).body.email).toBe(`${alice.name}@example.com`);
		expect((await doc(ADMIN)).body.email).toBe(`${alice.name}@example.com`);
		const other = await doc(bob.token);
		expect(other.body).toMatchObject({ name: alice.name });
		expect(other.body.email).toBeUndefined();
		const customer = await createToken([{ scope: "@anything", permissions: ["read"] }], "customer");
		expect((await doc(customer.token)).status).toBe(404);
	});
});

describe("#9.8 manifest confusion", () => {
	it("takes the install fields from the tarball's package.json, whatever the document says", async () => {
		const name = uniqueName("confused");
		const token = await publisherFor(name);
		const packageJson = {
			name,
			version: "1.0.0",
			dependencies: { "left-pad": "^1.0.0" },
			scripts: { postinstall: "node steal.js" },
			bin: "./cli.js",
		};
		const tgz = await gzipTar({ "package.json": json(packageJson), "index.js": "", "cli.js": "" });
		const sums = await checksums(tgz);
		const document = {
			name,
			"dist-tags": { latest: "1.0.0" },
			versions: { "1.0.0": { name, version: "1.0.0", dependencies: {}, scripts: {}, dist: sums } },
			_attachments: { [`${name}-1.0.0.tgz`]: { data: tgz.toBase64(), length: tgz.byteLength } },
		};
		expect((await call(`/${name}`, { method: "PUT", token, body: json(document) })).status).toBe(201);
		const abbreviated = await call(`/${name}`, {
			token,
			headers: { accept: "application/vnd.npm.install-v1+json" },
		});
		const version = ((await abbreviated.json()) as { versions: Record<string, Record<string, unknown>> }).versions[
			"1.0.0"
		];
		expect(version).toMatchObject({
			dependencies: { "left-pad": "^1.0.0" },
			hasInstallScript: true,
			bin: { [name]: "cli.js" },
		});
		const publishEntry = (await auditOf(name)).find((e) => e.action === "publish");
		expect(publishEntry?.detail).toMatchObject({ manifestFromTarball: ["dependencies", "bin", "scripts"] });
	});
});

describe("#9.9 secrets in the audit trail", () => {
	it("never records a token, even when a failed request carries one in its path", async () => {
		const since = new Date().toISOString();
		const victim = await createToken([]);
		const res = await call(`/-/npm/v1/tokens/token/${victim.token}`, {
			method: "DELETE",
			token: `dev_${"e".repeat(64)}`,
			headers: ip(freshAddress()),
		});
		expect(res.status).toBe(401);
		const entries = await registryAudit(since);
		expect(entries.some((e) => e.action === "auth.failed")).toBe(true);
		const text = JSON.stringify(entries);
		expect(text).not.toContain(victim.token);
		expect(text).not.toContain(victim.token.slice(0, 24));
	});

	it("caps free text in audit rows", async () => {
		const since = new Date().toISOString();
		const long = "x".repeat(5_000);
		await call(`/-/admin/scopes/@${long}`, {
			method: "PUT",
			token: `dev_${"d".repeat(64)}`,
			headers: ip(freshAddress()),
		});
		const failure = (await registryAudit(since)).find((e) => e.action === "auth.failed");
		expect(failure?.target?.length).toBeLessThanOrEqual(260);
	});
});

describe("#9.10 public access at creation needs publish", () => {
	it("refuses upload?access=public to a token that may only upload", async () => {
		const scope = `@${uniqueName("up").replaceAll("-", "")}`;
		const uploader = await createToken([{ scope, permissions: ["read", "upload"] }]);
		const bundle = await gzipTar({ "index.js": "export default 1;" });
		const refused = await call(`/packages/${scope}/a/upload?access=public`, {
			method: "POST",
			token: uploader.token,
			body: bundle,
		});
		expect(refused.status).toBe(403);
		const restricted = await call(`/packages/${scope}/a/upload`, {
			method: "POST",
			token: uploader.token,
			body: bundle,
		});
		expect(restricted.status).toBe(201);
		expect((await call(`/${scope}/a`)).status).toBe(404);
		const publisher = await createToken([{ scope, permissions: ALL }]);
		const open = await call(`/packages/${scope}/b/upload?access=public`, {
			method: "POST",
			token: publisher.token,
			body: bundle,
		});
		expect(open.status).toBe(201);
		expect((await call(`/${scope}/b`)).status).toBe(200);
	});
});

describe("#9.11 unhandled errors", () => {
	it("answers search with a NUL byte, and refuses from=1e20, with no 500", async () => {
		expect((await call("/-/v1/search?text=a%00b")).status).toBe(200);
		expect((await call("/-/v1/search?text=a&from=1e20")).status).toBe(400);
	});

	it("refuses a document nested 100,000 deep with 400", async () => {
		const name = uniqueName("deep");
		const token = await publisherFor(name);
		const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
		const res = await call(`/${name}`, { method: "PUT", token, body: `{"name":"${name}","versions":{},"x":${deep}}` });
		expect(res.status).toBe(400);
	});

	it("keeps a 12 MB README out of the packument, keeping the first 256 KB", async () => {
		const name = uniqueName("readme");
		const token = await publisherFor(name);
		const readme = `# big\n${"lorem ipsum ".repeat(1_100_000)}`;
		expect((await publish(name, "1.0.0", token, { files: { "README.md": readme } })).status).toBe(201);
		const doc = await readPackument(name, token);
		expect(doc.readme?.length).toBe(256 * 1024);
	});

	it("refuses npm token create with expires: 1e12", async () => {
		const user = await userWithToken([]);
		const res = await call("/-/npm/v1/tokens", {
			method: "POST",
			token: user.token,
			body: json({ password: user.password, expires: 1e12 }),
		});
		expect(res.status).toBe(400);
	});

	it("leaves no bytes behind after refused publishes, and the reindex sweeps orphans", async () => {
		const name = uniqueName("orphans");
		const token = await publisherFor(name);
		expect((await publish(name, "1.0.0", token)).status).toBe(201);
		for (let i = 0; i < 3; i++) expect((await publish(name, "1.0.0", token)).status).toBe(403);
		const keys = async () =>
			(await env.BLOBS.list({ prefix: `tarballs/${name}/` })).objects.length +
			(await env.BLOBS.list({ prefix: `files/${name}/` })).objects.length;
		expect(await keys()).toBe(2);
		// An orphan from an attempt two hours ago (its own cleanup failed), and one still in flight.
		const old = new Date(Date.now() - 2 * 3_600_000).toISOString();
		await env.BLOBS.put(`tarballs/${name}/9.9.9/orphan.tgz`, "x", { customMetadata: { startedAt: old } });
		await env.BLOBS.put(`tarballs/${name}/9.9.8/in-flight.tgz`, "x");
		expect((await admin("/-/admin/reindex", "POST")).status).toBe(202);
		const index = env.INDEX.get(env.INDEX.idFromName("index"));
		while (await runDurableObjectAlarm(index)) {
			// one batch per alarm
		}
		expect(await keys()).toBe(3);
		expect(await env.BLOBS.head(`tarballs/${name}/9.9.9/orphan.tgz`)).toBeNull();
		expect((await call(`/${name}/-/${name}-1.0.0.tgz`, { token })).status).toBe(200);
	});
});

describe("#9.13 the rest of the review", () => {
	it("stores TOTP seeds sealed, and still accepts codes", async () => {
		const user = await userWithToken([]);
		const enabled = await admin(`/-/admin/users/${user.name}/totp`, "POST");
		const otpauth = ((await enabled.json()) as { otpauth: string }).otpauth;
		const totp = OTPAuth.URI.parse(otpauth) as OTPAuth.TOTP;
		const stored = await runInDurableObject(
			env.AUTH.get(env.AUTH.idFromName("auth")),
			(_i, state) =>
				state.storage.sql.exec<{ totp_secret: string }>("SELECT totp_secret FROM users WHERE name = ?", user.name).one()
					.totp_secret,
		);
		expect(stored).toMatch(/^sealed:v1:/);
		expect(stored).not.toContain(totp.secret.base32);
		const login = await call(`/-/user/org.couchdb.user:${user.name}`, {
			method: "PUT",
			headers: { "npm-otp": totp.generate() },
			body: json({ name: user.name, password: user.password }),
		});
		expect(login.status).toBe(201);
	});

	it("shows who moved a channel with their token prefix only to publishers", async () => {
		const name = uniqueName("hist");
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token, { access: "public" });
		const history = async (as: string | null) => {
			const res = await call(`/packages/${name}/channels/latest/history`, { token: as });
			return JSON.stringify(await res.json());
		};
		expect(await history(token)).toMatch(/dev_[0-9a-f]{8}/);
		expect(await history(null)).not.toMatch(/dev_/);
	});

	it("answers the audit route of a fully unpublished package with 404 to non-publishers", async () => {
		const name = uniqueName("gone");
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token, { access: "public" });
		const { _rev } = await readPackument(name, token);
		expect((await call(`/${name}/-rev/${_rev}`, { method: "DELETE", token })).status).toBe(200);
		const reader = await createToken([{ package: name, permissions: ["read"] }]);
		expect((await call(`/packages/${name}/audit`, { token: reader.token })).status).toBe(404);
		expect((await call(`/packages/${name}/audit`, { token })).status).toBe(200);
	});

	it("reserves the names of the registry's own routes", async () => {
		for (const name of ["health", "search", "package"]) {
			expect((await publish(name, "1.0.0", ADMIN)).status).toBe(400);
		}
	});

	it("accepts a capability URL in its one canonical spelling only", async () => {
		const scope = `@${uniqueName("cap").replaceAll("-", "")}`;
		const name = `${scope}/w`;
		const token = await publisherFor(scope);
		await publish(name, "1.0.0", token);
		await call(`/packages/${name}/channels/stable`, { method: "POST", token, body: json({ version: "1.0.0" }) });
		const lookup = (await (await call(`/packages/${name}/channels/stable`, { token })).json()) as { index: string };
		const path = new URL(lookup.index).pathname;
		expect((await call(path)).status).toBe(200);
		const padded = path.replace(/\/~([^/]+)\//, "/~$1=/");
		expect((await call(padded)).status).toBe(404);
	});
});
