import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { authStoreObject } from "../durable-objects/stubs";
import type { Grant } from "../schema/requests/admin";
import { newToken } from "../worker/auth/principal";
import { runPackageAlarm } from "./helpers/package-object";
import { ADMIN, ALL, call, createToken, publish, publishBody, uniqueName } from "./helpers/registry";
import { gzipTar } from "./helpers/tarball";

// Every endpoint × every kind of caller, on a restricted package, with the status each must get.

type Who =
	| "anonymous"
	| "customer with grant"
	| "customer without"
	| "developer with read"
	| "developer with upload only"
	| "developer with publish"
	| "revoked"
	| "expired"
	| "admin";

const WHO: Who[] = [
	"anonymous",
	"customer with grant",
	"customer without",
	"developer with read",
	"developer with upload only",
	"developer with publish",
	"revoked",
	"expired",
	"admin",
];

const scope = `@${uniqueName("mx").replaceAll("-", "")}`;
const name = `${scope}/matrix`;
const tokens = {} as Record<Who, string | null>;
let counter = 0;

beforeAll(async () => {
	const owner = await createToken([{ scope, permissions: ALL }]);
	const published = await publish(name, "1.0.0", owner.token);
	expect(published.status).toBe(201);
	await call(`/packages/${name}/channels/stable`, { method: "POST", token: owner.token, body: '{"version":"1.0.0"}' });
	const revoked = await createToken([{ scope, permissions: ALL }]);
	await call(`/-/admin/tokens/${revoked.id}`, { method: "DELETE", token: ADMIN });
	Object.assign(tokens, {
		anonymous: null,
		"customer with grant": (await createToken([{ package: name, permissions: ["read"] }], "customer")).token,
		"customer without": (await createToken([{ package: "elsewhere", permissions: ["read"] }], "customer")).token,
		"developer with read": (await createToken([{ package: name, permissions: ["read"] }])).token,
		"developer with upload only": (await createToken([{ scope, permissions: ["read", "upload"] }])).token,
		"developer with publish": owner.token,
		revoked: revoked.token,
		expired: await expiredToken([{ scope, permissions: ["read", "upload", "publish"] }]),
		admin: ADMIN,
	});
});

/**
 * A token whose expiry has already passed (#23.6: no waiting for one to expire). The admin API
 * refuses a past expiresAt, so it is made in the auth store directly, as the API would make it.
 */
async function expiredToken(grants: Grant[]): Promise<string> {
	const { token, hash, prefix } = await newToken("developer");
	const created = await authStoreObject(env).createToken(
		{ hash, prefix, kind: "developer", name: "expired", grants, expiresAt: "2020-01-01T00:00:00.000Z" },
		{ name: "admin", prefix: null, ip: null, label: "admin" },
	);
	if (!created.ok) throw new Error(`token creation failed: ${created.message}`);
	return token;
}

/** A request builder per endpoint; writes get fresh versions so every row can succeed. */
const endpoints: Record<string, (token: string | null) => Promise<Response>> = {
	"GET /-/ping": (token) => call("/-/ping", { token }),
	"GET /health": () => call("/health"),
	"GET /-/whoami": (token) => call("/-/whoami", { token }),
	"GET packument": (token) => call(`/${name}`, { token }),
	"GET version": (token) => call(`/${name}/1.0.0`, { token }),
	"GET tarball": (token) => call(`/${name}/-/matrix-1.0.0.tgz`, { token }),
	"GET dist-tags": (token) => call(`/-/package/${name}/dist-tags`, { token }),
	"GET channel": (token) => call(`/packages/${name}/channels/stable`, { token }),
	"GET channel history": (token) => call(`/packages/${name}/channels/stable/history`, { token }),
	"GET downloads": (token) => call(`/-/downloads/point/last-week/${name}`, { token }),
	"GET search": (token) => call(`/-/v1/search?text=matrix`, { token }),
	"GET visibility": (token) => call(`/-/package/${name}/visibility`, { token }),
	"GET audit": (token) => call(`/packages/${name}/audit`, { token }),
	"PUT publish": async (token) => {
		const { body } = await publishBody(name, `2.0.${++counter}`);
		return call(`/${name.replace("/", "%2f")}`, { method: "PUT", token, body: JSON.stringify(body) });
	},
	"PUT dist-tag": (token) => call(`/-/package/${name}/dist-tags/next`, { method: "PUT", token, body: '"1.0.0"' }),
	"POST channel": (token) =>
		call(`/packages/${name}/channels/beta`, { method: "POST", token, body: '{"version":"1.0.0"}' }),
	"POST upload": async (token) =>
		call(`/packages/${name}/upload?version=3.0.${++counter}`, {
			method: "POST",
			token,
			body: await gzipTar({ "index.js": "export default 1;" }),
		}),
	"GET admin tokens": (token) => call("/-/admin/tokens", { token }),
};

/** Expected status per endpoint, in WHO order. */
const expected: Record<string, number[]> = {
	//                      anon cust+ cust- read upl  pub  revk expd admin
	"GET /-/ping": [200, 200, 200, 200, 200, 200, 401, 401, 200],
	"GET /health": [200, 200, 200, 200, 200, 200, 200, 200, 200],
	"GET /-/whoami": [401, 200, 200, 200, 200, 200, 401, 401, 200],
	"GET packument": [404, 200, 404, 200, 200, 200, 401, 401, 200],
	"GET version": [404, 200, 404, 200, 200, 200, 401, 401, 200],
	"GET tarball": [404, 200, 404, 200, 200, 200, 401, 401, 200],
	"GET dist-tags": [404, 200, 404, 200, 200, 200, 401, 401, 200],
	"GET channel": [404, 200, 404, 200, 200, 200, 401, 401, 200],
	"GET channel history": [404, 200, 404, 200, 200, 200, 401, 401, 200],
	"GET downloads": [404, 200, 404, 200, 200, 200, 401, 401, 200],
	"GET search": [200, 200, 200, 200, 200, 200, 401, 401, 200],
	"GET visibility": [404, 200, 404, 200, 200, 200, 401, 401, 200],
	"GET audit": [401, 403, 404, 403, 403, 200, 401, 401, 200],
	"PUT publish": [401, 403, 403, 403, 403, 201, 401, 401, 201],
	"PUT dist-tag": [401, 403, 403, 403, 403, 201, 401, 401, 201],
	"POST channel": [401, 403, 403, 403, 403, 201, 401, 401, 201],
	"POST upload": [401, 403, 403, 403, 201, 201, 401, 401, 201],
	"GET admin tokens": [401, 403, 403, 403, 403, 403, 401, 401, 200],
};

describe("who may do what", () => {
	for (const [endpoint, statuses] of Object.entries(expected)) {
		it(`${endpoint}`, async () => {
			const request = endpoints[endpoint];
			if (!request) throw new Error(`no request for ${endpoint}`);
			const got: Record<string, number> = {};
			const want: Record<string, number> = {};
			for (const [i, who] of WHO.entries()) {
				const res = await request(tokens[who]);
				got[who] = res.status;
				want[who] = statuses[i] ?? 0;
				if (res.status === 401) expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
				await res.arrayBuffer();
			}
			expect(got).toEqual(want);
		});
	}

	it("shows restricted packages in search only to those who may read them", async () => {
		const visible = async (who: Who) => {
			const res = await call(`/-/v1/search?text=${encodeURIComponent(name)}&size=250`, { token: tokens[who] });
			const body = (await res.json()) as { objects: { package: { name: string } }[] };
			return body.objects.some((o) => o.package.name === name);
		};
		// The index learns the package from the object's alarm.
		await runPackageAlarm(name);
		expect(await visible("admin")).toBe(true);
		expect(await visible("customer with grant")).toBe(true);
		expect(await visible("developer with read")).toBe(true);
		expect(await visible("anonymous")).toBe(false);
		expect(await visible("customer without")).toBe(false);
	});

	it("refuses tokens without their kind's prefix, and malformed Authorization headers", async () => {
		const valid = tokens["developer with publish"] ?? "";
		for (const header of [
			`Bearer ${valid.replace(/^dev_/, "")}`,
			`Bearer blk_${valid.slice(4)}`,
			`Basic ${btoa("a:b")}`,
		]) {
			const res = await call(`/${name}`, { headers: { authorization: header } });
			expect(res.status, header).toBe(401);
			expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
		}
	});
});
