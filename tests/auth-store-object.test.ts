import { env } from "cloudflare:test";
import * as OTPAuth from "otpauth";
import { describe, expect, it } from "vitest";
import type { Actor } from "../schema/audit";
import type { NewToken } from "../schema/auth/contract";
import { randomHex } from "../schema/hashing";
import type { Grant } from "../schema/requests/admin";
import { uniqueName } from "./helpers/registry";

// The AuthStoreDO and the TokenDOs through their RPC contracts (schema/auth/contract.ts): what a
// change to users, tokens, grants and customers does to the token records requests check. Each
// test has its own store (the registry's is idFromName("auth")) and random token hashes.

const admin: Actor = { name: "admin", prefix: null, ip: "192.0.2.9", label: "admin" };
const ALL: Grant["permissions"] = ["read", "upload", "publish"];

function freshStore() {
	return env.AUTH.get(env.AUTH.idFromName(uniqueName("store")));
}

function tokenObject(hash: string) {
	return env.TOKENS.get(env.TOKENS.idFromName(hash));
}

function value<T>(result: { ok: true; value: T } | { ok: false; code: string; message: string }): T {
	if (!result.ok) throw new Error(`refused: ${result.code} ${result.message}`);
	return result.value;
}

/** A token as the Worker would create it: only its hash and listed prefix reach the store. */
function newToken(overrides: Partial<NewToken> = {}): NewToken {
	const hash = randomHex(32);
	return { hash, prefix: `dev_${hash.slice(0, 8)}`, kind: "developer", name: "ci", grants: [], ...overrides };
}

async function createUser(store: ReturnType<typeof freshStore>, grants: Grant[], name = uniqueName("user")) {
	value(await store.createUser({ name, passwordHash: "hash", salt: "salt", iterations: 1, grants }, admin));
	return name;
}

/** What a request carrying the token would see (the grants, or the refusal code). */
async function seen(hash: string) {
	const record = await tokenObject(hash).get();
	return record.ok ? record.value.grants : record.code;
}

describe("tokens", () => {
	it("creates a token whose own object holds its record before the store answers", async () => {
		const store = freshStore();
		const input = newToken({ grants: [{ package: "pkg", permissions: ["read", "publish"] }] });
		const created = value(await store.createToken(input, admin));
		expect(created.changedTokens).toEqual([input.hash]);
		expect(created.token).toMatchObject({ prefix: input.prefix, kind: "developer", origin: "admin", readonly: false });
		expect(created.token).not.toHaveProperty("hash");
		expect(value(await tokenObject(input.hash).get())).toMatchObject({
			id: created.token.id,
			kind: "developer",
			prefix: input.prefix,
			user: null,
			grants: [{ package: "pkg", permissions: ["read", "publish"] }],
			totp: false,
		});
	});

	it.each<[string, Partial<NewToken>, Grant[], Grant[]]>([
		[
			"a token carries its user's grants with its own",
			{},
			[{ scope: "@s", permissions: ALL }],
			[
				{ package: "own", permissions: ["read"] },
				{ scope: "@s", permissions: ALL },
			],
		],
		[
			"a read-only token reads only",
			{ readonly: true },
			[{ scope: "@s", permissions: ALL }],
			[
				{ package: "own", permissions: ["read"] },
				{ scope: "@s", permissions: ["read"] },
			],
		],
		[
			"a granular token is narrowed to its packages",
			{ restrictTo: { packages: ["@s/a"], scopes: [] } },
			[{ scope: "@s", permissions: ALL }],
			[{ package: "@s/a", permissions: ALL }],
		],
	])("%s", async (_name, options, userGrants, expected) => {
		const store = freshStore();
		const user = await createUser(store, userGrants);
		const input = newToken({ user, grants: [{ package: "own", permissions: ["read"] }], ...options });
		value(await store.createToken(input, admin));
		expect(await seen(input.hash)).toEqual(expected);
	});

	it("changes what every token of a user may do when the user's grants change", async () => {
		const store = freshStore();
		const user = await createUser(store, []);
		const [a, b] = [newToken({ user }), newToken({ user })];
		value(await store.createToken(a, admin));
		value(await store.createToken(b, admin));
		const granted = value(await store.grantUser(user, { package: "pkg", permissions: ["read"] }, admin));
		expect(granted.changedTokens.sort()).toEqual([a.hash, b.hash].sort());
		expect([await seen(a.hash), await seen(b.hash)]).toEqual([
			[{ package: "pkg", permissions: ["read"] }],
			[{ package: "pkg", permissions: ["read"] }],
		]);
		value(await store.ungrantUser(user, { package: "pkg" }, admin));
		expect(await seen(a.hash)).toEqual([]);
		expect(await store.ungrantUser(user, { package: "pkg" }, admin)).toMatchObject({ ok: false, code: "notFound" });
	});

	it("grants to and takes from one token", async () => {
		const store = freshStore();
		const input = newToken();
		const { token } = value(await store.createToken(input, admin));
		value(await store.grantToken(token.id, { scope: "@s", permissions: ["read"] }, admin));
		value(await store.grantToken(token.id, { scope: "@s", permissions: ALL }, admin));
		expect(await seen(input.hash)).toEqual([{ scope: "@s", permissions: ALL }]);
		value(await store.ungrantToken(token.id, { scope: "@s" }, admin));
		expect(await seen(input.hash)).toEqual([]);
	});

	it("revokes a token: its object refuses it at once, and only its owner may revoke it by secret", async () => {
		const store = freshStore();
		const owner = await createUser(store, []);
		const input = newToken({ user: owner });
		const { token } = value(await store.createToken(input, admin));
		expect(await store.revokeTokenByHash(input.hash, admin, "someone-else")).toMatchObject({
			ok: false,
			code: "notFound",
		});
		expect(await seen(input.hash)).toEqual([]);
		expect(value(await store.revokeTokenByHash(input.hash, admin, owner)).changedTokens).toEqual([input.hash]);
		expect(await seen(input.hash)).toBe("notFound");
		expect(await store.getToken(token.id)).toMatchObject({ ok: false, code: "notFound" });
		expect(await store.revokeToken(token.id, admin)).toMatchObject({ ok: false, code: "notFound" });
	});

	it("rotates a token: the old secret stops working, the new one works with the same id and grants", async () => {
		const store = freshStore();
		const old = newToken({ grants: [{ package: "pkg", permissions: ["read"] }] });
		const { token } = value(await store.createToken(old, admin));
		const next = newToken();
		const rotated = value(await store.rotateToken(token.id, next.hash, next.prefix, admin));
		expect(rotated.changedTokens.sort()).toEqual([old.hash, next.hash].sort());
		expect(rotated.token).toMatchObject({ id: token.id, prefix: next.prefix });
		expect(await seen(old.hash)).toBe("notFound");
		expect(value(await tokenObject(next.hash).get())).toMatchObject({
			id: token.id,
			grants: [{ package: "pkg", permissions: ["read"] }],
		});
	});

	it("keeps the newest record a token object was given, whatever order pushes arrive in", async () => {
		const hash = randomHex(32);
		const record = {
			id: "t1",
			kind: "developer" as const,
			prefix: "dev_00000000",
			name: "ci",
			user: null,
			email: null,
			customer: null,
			grants: [],
			expiresAt: null,
			cidr: null,
			totp: false,
			bypassTwoFactor: false,
			readonly: false,
			restricted: false,
			createdAt: "2026-01-01T00:00:00.000Z",
		};
		expect(await tokenObject(hash).put({ ...record, name: "newer" }, 5)).toBe(true);
		expect(await tokenObject(hash).put({ ...record, name: "older" }, 4)).toBe(false);
		expect(await tokenObject(hash).put(null, 3)).toBe(false);
		expect(value(await tokenObject(hash).get()).name).toBe("newer");
		expect(await tokenObject(hash).put(null, 6)).toBe(true);
		expect(await tokenObject(hash).get()).toMatchObject({ ok: false, code: "notFound" });
	});

	it("refuses an expired token", async () => {
		const store = freshStore();
		const input = newToken({ expiresAt: new Date(Date.now() - 1_000).toISOString() });
		value(await store.createToken(input, admin));
		expect(await seen(input.hash)).toBe("notFound");
	});
});

describe("customers", () => {
	it("suspends and reactivates every key of a customer at once", async () => {
		const store = freshStore();
		const customer = uniqueName("acme");
		value(await store.createCustomer(customer, admin));
		expect(await store.createCustomer(customer, admin)).toMatchObject({ ok: false, code: "conflict" });
		const key = newToken({ kind: "customer", customer, grants: [{ package: "pkg", permissions: ["read"] }] });
		value(await store.createToken(key, admin));
		expect(await seen(key.hash)).toEqual([{ package: "pkg", permissions: ["read"] }]);

		const suspended = value(await store.setCustomerActive(customer, false, admin));
		expect(suspended).toMatchObject({
			customer: { name: customer, active: false, keys: 1 },
			changedTokens: [key.hash],
		});
		expect(await seen(key.hash)).toBe("notFound");
		value(await store.setCustomerActive(customer, true, admin));
		expect(await seen(key.hash)).toEqual([{ package: "pkg", permissions: ["read"] }]);
	});

	it("keeps customer keys read-only", async () => {
		const store = freshStore();
		const key = newToken({ kind: "customer", grants: [{ package: "pkg", permissions: ALL }] });
		const { token } = value(await store.createToken(key, admin));
		expect(await seen(key.hash)).toEqual([{ package: "pkg", permissions: ["read"] }]);
		expect(await store.grantToken(token.id, { package: "other", permissions: ["read", "publish"] }, admin)).toEqual({
			ok: false,
			code: "unprocessable",
			message: "customer keys are read-only: grant them read only",
		});
	});
});

describe("refusals", () => {
	it.each<[string, (store: ReturnType<typeof freshStore>) => Promise<unknown>, string]>([
		[
			"a token for an unknown user",
			(s) => s.createToken(newToken({ user: "ghost" }), admin),
			"user ghost does not exist",
		],
		[
			"a key for an unknown customer",
			(s) => s.createToken(newToken({ kind: "customer", customer: "ghost" }), admin),
			"customer ghost does not exist",
		],
		[
			"a grant to an unknown token",
			(s) => s.grantToken("nope", { package: "p", permissions: ["read"] }, admin),
			"token nope does not exist",
		],
		[
			"a grant to an unknown user",
			(s) => s.grantUser("ghost", { package: "p", permissions: ["read"] }, admin),
			"user ghost does not exist",
		],
		["rotating an unknown token", (s) => s.rotateToken("nope", "h", "dev_h", admin), "token nope does not exist"],
		[
			"suspending an unknown customer",
			(s) => s.setCustomerActive("ghost", false, admin),
			"customer ghost does not exist",
		],
		["two-factor for an unknown user", (s) => s.setTotp("ghost", true, admin), "user ghost does not exist"],
	])("refuses %s as notFound, recording nothing", async (_name, attempt, message) => {
		const store = freshStore();
		expect(await attempt(store)).toEqual({ ok: false, code: "notFound", message });
		expect(await store.auditLog({})).toEqual([]);
	});

	it("refuses a user that exists", async () => {
		const store = freshStore();
		const name = await createUser(store, []);
		expect(await store.createUser({ name, passwordHash: "h", salt: "s", iterations: 1, grants: [] }, admin)).toEqual({
			ok: false,
			code: "conflict",
			message: `user ${name} already exists`,
		});
	});
});

describe("users", () => {
	it("lists collaborators of a package from user grants on it and on its scope", async () => {
		const store = freshStore();
		const writer = await createUser(store, [{ scope: "@s", permissions: ALL }]);
		const reader = await createUser(store, [{ package: "@s/a", permissions: ["read"] }]);
		await createUser(store, [{ package: "@s/b", permissions: ALL }]);
		expect(await store.collaborators("@s/a", "@s")).toEqual({ [writer]: "read-write", [reader]: "read-only" });
		expect(await store.collaborators("a", null)).toEqual({});
	});

	it("accepts a TOTP code once, and answers why it refuses one", async () => {
		const store = freshStore();
		const name = await createUser(store, []);
		expect(await store.verifyTotp(name, "123456")).toBe("notEnabled");
		const { otpauth } = value(await store.setTotp(name, true, admin));
		const totp = OTPAuth.URI.parse(otpauth ?? "") as OTPAuth.TOTP;
		const code = totp.generate();
		const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
		expect(await store.verifyTotp(name, "12345")).toBe("invalid");
		expect(await store.verifyTotp(name, wrong)).toBe("invalid");
		expect(await store.verifyTotp(name, code)).toBe("valid");
		expect(await store.verifyTotp(name, code)).toBe("replayed");
		expect(value(await store.getUser(name)).twoFactor).toBe(true);
		value(await store.setTotp(name, false, admin));
		expect(await store.verifyTotp(name, code)).toBe("notEnabled");
	});

	it("records each change in the registry audit log, newest first", async () => {
		const store = freshStore();
		const name = await createUser(store, []);
		const input = newToken({ user: name });
		value(await store.createToken(input, admin));
		value(await store.grantUser(name, { package: "pkg", permissions: ["read"] }, admin));
		expect((await store.auditLog({})).map((e) => [e.action, e.target, e.actor, e.ip])).toEqual([
			["user.grant", name, "admin", "192.0.2.9"],
			["token.create", input.prefix, "admin", "192.0.2.9"],
			["user.create", name, "admin", "192.0.2.9"],
		]);
	});
});
