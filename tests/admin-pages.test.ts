import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ADMIN, BASE, call, createToken, uniqueName, userWithToken } from "./helpers/registry";

// The admin pages (#24.3) through HTTP as a browser sends them: each form does what the admin API
// does (checked through the API), a form from another origin and a caller who is not the admin are
// refused as the channel forms and the admin API refuse them, a new token's plaintext is in the
// one answer to its form (no-store, in no URL), and hostile names are escaped.

/** A browser's form post: urlencoded, from the registry's own origin unless told otherwise. */
function post(
	path: string,
	form: [string, string][] | Record<string, string>,
	init: { cookie?: string; origin?: string | null } = {},
) {
	const headers = new Headers({ "content-type": "application/x-www-form-urlencoded" });
	if (init.origin !== null) headers.set("origin", init.origin ?? BASE);
	if (init.cookie) headers.set("cookie", init.cookie);
	return SELF.fetch(`${BASE}${path}`, { method: "POST", headers, body: new URLSearchParams(form), redirect: "manual" });
}

async function signIn(token: string): Promise<string> {
	const res = await post("/-/signin", { token, next: "/" });
	expect(res.status).toBe(303);
	return (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
}

function page(path: string, cookie?: string) {
	return SELF.fetch(`${BASE}${path}`, { headers: cookie ? { cookie } : {} });
}

const adminCookie = () => signIn(ADMIN);

/** The plaintext a create or rotate answer shows (once). */
function shownToken(body: string): string {
	const token = /<pre data-lines="token"><code>([^<]+)<\/code><\/pre>/.exec(body)?.[1];
	expect(token).toMatch(/^(dev|blk|adm)_/);
	return token ?? "";
}

/** A 303 back to the page with its confirmation (#24.4's status line). */
function expectConfirmed(res: Response, path: string, words: string) {
	expect(res.status).toBe(303);
	expect(res.headers.get("cache-control")).toBe("no-store");
	const location = new URL(res.headers.get("location") ?? "", BASE);
	expect(location.pathname).toBe(path);
	expect(location.searchParams.get("done")).toContain(words);
}

async function whoami(token: string): Promise<number> {
	return (await call("/-/whoami", { token })).status;
}

async function adminJson<T>(path: string): Promise<T> {
	const res = await call(path, { token: ADMIN });
	expect(res.status).toBe(200);
	return res.json() as Promise<T>;
}

type Listing = { id: string; name: string; prefix: string; grants: unknown[]; expiresAt: string | null };

async function listed(name: string): Promise<Listing | undefined> {
	const { tokens } = await adminJson<{ tokens: Listing[] }>("/-/admin/tokens");
	return tokens.find((t) => t.name === name);
}

describe("the tokens page (#24.3)", () => {
	it("#24.3 creates a token with grants and an expiry: its plaintext once, no-store, in no URL, with its .npmrc line", async () => {
		const cookie = await adminCookie();
		const name = uniqueName("page-token");
		const scope = `@${uniqueName("pt").replaceAll("-", "")}`;
		const res = await post(
			"/-/dashboard/tokens",
			[
				["op", "create"],
				["kind", "developer"],
				["name", name],
				["expires", "2099-12-31"],
				["subject", `${scope}/widget`],
				["permissions", "read"],
				["subject", scope],
				["permissions", "read,upload,publish"],
				["subject", ""],
				["permissions", "read"],
			],
			{ cookie },
		);
		expect(res.status).toBe(200);
		expect(res.headers.get("cache-control")).toBe("no-store");
		expect(res.headers.get("location")).toBeNull();
		const body = await res.text();
		const token = shownToken(body);
		expect(body).toContain(`<pre data-lines="npmrc"><code>//registry.test/:_authToken=${token}</code></pre>`);
		expect(body).toContain(`Token “${name}” created.`);
		expect(await whoami(token)).toBe(200);

		const made = await listed(name);
		expect(made?.grants).toHaveLength(2);
		expect(made?.grants).toEqual(
			expect.arrayContaining([
				{ package: `${scope}/widget`, permissions: ["read"] },
				{ scope, permissions: ["read", "upload", "publish"] },
			]),
		);
		expect(made?.expiresAt).toBe("2099-12-31T23:59:59.000Z");

		// The list shows the token by its prefix and grants, never its secret.
		const list = await page("/-/dashboard/tokens", cookie);
		expect(list.status).toBe(200);
		expect(list.headers.get("cache-control")).toBe("private, no-cache");
		const text = await list.text();
		expect(text).toContain(made?.prefix ?? "?");
		expect(text).toContain(`${scope} (every package): read, upload, publish`);
		expect(text).not.toContain(token);
		expect(text).not.toContain(token.slice(4));
	});

	it("#24.3 rotates a token (the new secret once, the old one dead) and revokes it with a confirmation", async () => {
		const cookie = await adminCookie();
		const name = uniqueName("rotate");
		const old = await createToken([], "developer", name);
		const rotated = await post("/-/dashboard/tokens", { op: "rotate", id: old.id }, { cookie });
		expect(rotated.status).toBe(200);
		expect(rotated.headers.get("cache-control")).toBe("no-store");
		const fresh = shownToken(await rotated.text());
		expect(fresh).not.toBe(old.token);
		expect(await whoami(old.token)).toBe(401);
		expect(await whoami(fresh)).toBe(200);

		const revoked = await post("/-/dashboard/tokens", { op: "revoke", id: old.id }, { cookie });
		expectConfirmed(revoked, "/-/dashboard/tokens", `Token “${name}”`);
		expect(await whoami(fresh)).toBe(401);
		expect(await listed(name)).toBeUndefined();
	});

	it("#24.3 adds and removes a token's grant", async () => {
		const cookie = await adminCookie();
		const name = uniqueName("grant");
		const token = await createToken([], "developer", name);
		const pkg = uniqueName("granted-pkg");
		expectConfirmed(
			await post(
				"/-/dashboard/tokens",
				{ op: "grant", id: token.id, subject: pkg, permissions: "read,upload" },
				{ cookie },
			),
			"/-/dashboard/tokens",
			`granted ${pkg}: read, upload`,
		);
		expect((await listed(name))?.grants).toEqual([{ package: pkg, permissions: ["read", "upload"] }]);
		expectConfirmed(
			await post("/-/dashboard/tokens", { op: "ungrant", id: token.id, subject: pkg }, { cookie }),
			"/-/dashboard/tokens",
			`grant on ${pkg} removed`,
		);
		expect((await listed(name))?.grants).toEqual([]);
	});

	it("#24.3 refuses what the API refuses, with the API's words: a customer key that writes, an expiry in the past, a bad grant", async () => {
		const cookie = await adminCookie();
		const cases: [Record<string, string>, number, string][] = [
			[{ kind: "customer", subject: "some-pkg", permissions: "read,upload" }, 422, "customer keys are read-only"],
			[{ kind: "developer", expires: "2001-01-01" }, 422, "expiresAt is in the past"],
			[{ kind: "developer", subject: "@bad scope", permissions: "read" }, 400, "grant.scope must look like @scope"],
			[
				{ kind: "developer", subject: "Not A Name", permissions: "read" },
				400,
				"grant.package is not a valid package name",
			],
			[{ kind: "robot" }, 400, "kind must be developer, customer or admin"],
		];
		for (const [fields, status, words] of cases) {
			const name = uniqueName("refused");
			const res = await post("/-/dashboard/tokens", { op: "create", name, ...fields }, { cookie });
			expect(res.status).toBe(status);
			expect(res.headers.get("cache-control")).toBe("no-store");
			expect(await res.text()).toContain(words);
			expect(await listed(name)).toBeUndefined();
		}
		expect((await post("/-/dashboard/tokens", { op: "explode" }, { cookie })).status).toBe(400);
	});

	it("#24.3 escapes a hostile token name on the list and on the page that shows the secret", async () => {
		const cookie = await adminCookie();
		const name = `<script>alert(1)</script>"'${uniqueName("x")}`;
		const res = await post("/-/dashboard/tokens", { op: "create", kind: "developer", name }, { cookie });
		const shown = await res.text();
		const list = await (await page("/-/dashboard/tokens", cookie)).text();
		for (const body of [shown, list]) {
			expect(body).not.toContain("<script>alert(1)</script>");
			expect(body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;");
		}
		// The question asked before revoking names it too, as an attribute's text.
		expect(list).toContain('data-confirm="Revoke &lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;');
	});
});

describe("the users page (#24.3)", () => {
	it("#24.3 creates a user under the one password rule, grants and ungrants, and turns TOTP on (enrolment once, no-store) and off", async () => {
		const cookie = await adminCookie();
		const name = uniqueName("pageuser");
		const short = await post(
			"/-/dashboard/users",
			{ op: "create", name, password: "short", subject: "", permissions: "read" },
			{ cookie },
		);
		expect(short.status).toBe(400);
		expect(await short.text()).toContain("password must be at least 8 characters");
		expect((await call(`/-/admin/users/${name}`, { token: ADMIN })).status).toBe(404);

		const pkg = uniqueName("user-pkg");
		expectConfirmed(
			await post(
				"/-/dashboard/users",
				{
					op: "create",
					name,
					email: `${name}@example.com`,
					password: "long-enough-1",
					subject: pkg,
					permissions: "read",
				},
				{ cookie },
			),
			"/-/dashboard/users",
			`User ${name} created`,
		);
		type User = { grants: unknown[]; twoFactor: boolean };
		expect((await adminJson<User>(`/-/admin/users/${name}`)).grants).toEqual([{ package: pkg, permissions: ["read"] }]);
		const login = await call(`/-/user/org.couchdb.user:${name}`, {
			method: "PUT",
			body: JSON.stringify({ name, password: "long-enough-1" }),
		});
		expect(login.status).toBe(201);

		expectConfirmed(
			await post(
				"/-/dashboard/users",
				{ op: "grant", user: name, subject: "@teamx", permissions: "read,upload,publish" },
				{ cookie },
			),
			"/-/dashboard/users",
			`${name} granted @teamx (every package): read, upload, publish`,
		);
		expectConfirmed(
			await post("/-/dashboard/users", { op: "ungrant", user: name, subject: pkg }, { cookie }),
			"/-/dashboard/users",
			`grant on ${pkg} removed`,
		);
		expect((await adminJson<User>(`/-/admin/users/${name}`)).grants).toEqual([
			{ scope: "@teamx", permissions: ["read", "upload", "publish"] },
		]);

		const on = await post("/-/dashboard/users", { op: "totp-on", user: name }, { cookie });
		expect(on.status).toBe(200);
		expect(on.headers.get("cache-control")).toBe("no-store");
		expect(await on.text()).toMatch(/<pre data-lines="otpauth"><code>otpauth:\/\/totp\/[^<]*secret=[A-Z2-7]+/);
		expect((await adminJson<User>(`/-/admin/users/${name}`)).twoFactor).toBe(true);
		const list = await (await page("/-/dashboard/users", cookie)).text();
		expect(list).toContain(`id="user-${name}"`);
		expect(list).not.toContain("otpauth://");

		expectConfirmed(
			await post("/-/dashboard/users", { op: "totp-off", user: name }, { cookie }),
			"/-/dashboard/users",
			`Two-factor turned off for ${name}`,
		);
		expect((await adminJson<User>(`/-/admin/users/${name}`)).twoFactor).toBe(false);
		// A user who does not exist is the API's 404.
		expect((await post("/-/dashboard/users", { op: "totp-off", user: "nobody-here" }, { cookie })).status).toBe(404);
	});
});

describe("the customers page (#24.3)", () => {
	it("#24.3 adds a customer, suspends it (its keys stop) and reactivates it (they work again); a hostile name is escaped", async () => {
		const cookie = await adminCookie();
		const customer = `<b>${uniqueName("cust")}</b>`;
		expectConfirmed(
			await post("/-/dashboard/customers", { op: "create", customer }, { cookie }),
			"/-/dashboard/customers",
			`Customer ${customer} added`,
		);
		const created = await call("/-/admin/tokens", {
			method: "POST",
			token: ADMIN,
			body: JSON.stringify({ kind: "customer", name: "key", customer, grants: [] }),
		});
		const key = ((await created.json()) as { token: string }).token;
		expect(await whoami(key)).toBe(200);

		expectConfirmed(
			await post("/-/dashboard/customers", { op: "suspend", customer }, { cookie }),
			"/-/dashboard/customers",
			"suspended",
		);
		expect(await whoami(key)).toBe(401);
		const list = await (await page("/-/dashboard/customers", cookie)).text();
		expect(list).not.toContain(customer);
		expect(list).toContain(`&lt;b&gt;${customer.slice(3, -4)}&lt;/b&gt;</th><td>suspended</td>`);
		// Its keys are listed on the tokens page, and only its.
		const keys = await (await page(`/-/dashboard/tokens?customer=${encodeURIComponent(customer)}`, cookie)).text();
		expect(keys).toContain(`1 token of customer &lt;b&gt;`);
		expect(keys).toContain(`customer &lt;b&gt;${customer.slice(3, -4)}&lt;/b&gt;</td>`);

		expectConfirmed(
			await post("/-/dashboard/customers", { op: "unsuspend", customer }, { cookie }),
			"/-/dashboard/customers",
			"reactivated",
		);
		expect(await whoami(key)).toBe(200);
	});
});

describe("the scope policies page (#24.3)", () => {
	it("#24.3 sets a scope's second factor and retention and the registry's default, as the API reads them back", async () => {
		const cookie = await adminCookie();
		const scope = `@${uniqueName("pol").replaceAll("-", "")}`;
		expectConfirmed(
			await post("/-/dashboard/scopes", { op: "scope", scope, requireTwoFactor: "on", days: "30" }, { cookie }),
			"/-/dashboard/scopes",
			`${scope}: writes need a second factor, pre-releases kept 30 days`,
		);
		expect(await adminJson(`/-/admin/scopes/${scope}`)).toEqual({
			scope,
			requireTwoFactor: true,
			prereleaseRetentionDays: 30,
		});
		const list = await (await page("/-/dashboard/scopes", cookie)).text();
		expect(list).toContain(`<th scope="row">${scope}</th>`);

		// Unchecked and empty: no second factor, the default retention.
		await post("/-/dashboard/scopes", { op: "scope", scope, days: "" }, { cookie });
		expect(await adminJson(`/-/admin/scopes/${scope}`)).toEqual({
			scope,
			requireTwoFactor: false,
			prereleaseRetentionDays: null,
		});
		const bad = await post("/-/dashboard/scopes", { op: "scope", scope: "nope", days: "" }, { cookie });
		expect(bad.status).toBe(400);
		expect(await bad.text()).toContain("scope must look like @scope");
		const negative = await post("/-/dashboard/scopes", { op: "scope", scope, days: "-1" }, { cookie });
		expect(negative.status).toBe(400);

		const before = await adminJson<{ prereleaseRetentionDays: number | null }>("/-/admin/retention");
		try {
			expectConfirmed(
				await post("/-/dashboard/scopes", { op: "retention", days: "90" }, { cookie }),
				"/-/dashboard/scopes",
				"kept 90 days",
			);
			expect((await adminJson<{ prereleaseRetentionDays: number }>("/-/admin/retention")).prereleaseRetentionDays).toBe(
				90,
			);
		} finally {
			await call("/-/admin/retention", {
				method: "PUT",
				token: ADMIN,
				body: JSON.stringify({ prereleaseRetentionDays: before.prereleaseRetentionDays }),
			});
		}
	});
});

describe("who may use the admin pages (#24.3)", () => {
	const FORMS: [string, Record<string, string>][] = [
		["/-/dashboard/tokens", { op: "create", kind: "developer", name: "csrf-token" }],
		["/-/dashboard/users", { op: "create", name: "csrf-user", password: "long-enough-1" }],
		["/-/dashboard/customers", { op: "create", customer: "csrf-customer" }],
		["/-/dashboard/scopes", { op: "scope", scope: "@csrfscope", requireTwoFactor: "on" }],
	];

	async function nothingChanged() {
		expect(await listed("csrf-token")).toBeUndefined();
		expect((await call("/-/admin/users/csrf-user", { token: ADMIN })).status).toBe(404);
		const { customers } = await adminJson<{ customers: { name: string }[] }>("/-/admin/customers");
		expect(customers.map((c) => c.name)).not.toContain("csrf-customer");
		expect(await adminJson(`/-/admin/scopes/@csrfscope`)).toMatchObject({ requireTwoFactor: false });
	}

	it("#24.3 refuses every form sent from another origin, or with no Origin, even with the admin's session", async () => {
		const cookie = await adminCookie();
		for (const [path, form] of FORMS) {
			for (const origin of [null, "https://evil.example", "null"]) {
				const res = await post(path, form, { cookie, origin });
				expect(res.status).toBe(403);
				expect(await res.text()).toContain("this form must be sent from the registry&#39;s own pages");
			}
		}
		await nothingChanged();
	});

	it("#24.3 answers a non-admin's pages and forms with the admin API's refusal: 401 signed out, 403 for another token", async () => {
		const developer = await createToken([{ scope: "@any", permissions: ["read", "upload", "publish"] }]);
		const user = await userWithToken([]);
		const api = await call("/-/admin/tokens", { token: developer.token });
		expect(api.status).toBe(403);
		const apiMessage = ((await api.json()) as { error: string }).error;
		const anonymousApi = await call("/-/admin/tokens");
		expect(anonymousApi.status).toBe(401);
		const anonymousMessage = ((await anonymousApi.json()) as { error: string }).error;

		for (const cookie of [await signIn(developer.token), await signIn(user.token)]) {
			for (const [path, form] of FORMS) {
				const get = await page(path, cookie);
				expect(get.status).toBe(403);
				expect(await get.text()).toContain(apiMessage);
				const res = await post(path, form, { cookie });
				expect(res.status).toBe(403);
				expect(await res.text()).toContain(apiMessage);
			}
		}
		for (const [path, form] of FORMS) {
			const get = await page(path);
			expect(get.status).toBe(401);
			expect(await get.text()).toContain(anonymousMessage);
			expect((await post(path, form)).status).toBe(401);
		}
		await nothingChanged();
	});

	it("#24.3 links the admin pages from the dashboard", async () => {
		const body = await (await page("/-/dashboard", await adminCookie())).text();
		for (const path of ["/-/dashboard/tokens", "/-/dashboard/users", "/-/dashboard/customers", "/-/dashboard/scopes"]) {
			expect(body).toContain(`href="${path}"`);
		}
	});
});
