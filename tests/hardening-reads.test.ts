import { env, runDurableObjectAlarm, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { tokenObject } from "../durable-objects/stubs";
import { memoryForgetPackage, memoryGet, memoryPut, memoryStats } from "../worker/read-tier/memory";
import { ADMIN, BASE, call, createToken, publish, publisherFor, uniqueName, userWithToken } from "./helpers/registry";

// Regression tests for the second adversarial review's findings about reads and pages (issue #22,
// items 1, 6, 7, 8, 9 and 12), one block per item, named after it, through the real HTTP surface.
// Nothing here times anything: item 9 is checked by the work a refusal does, not by its speed.

const json = (body: unknown) => JSON.stringify(body);
const outcome = (res: Response) => res.headers.get("x-registry-cache");
const junk = (i: number, length: number) => `${i}-${"j".repeat(length)}`;

/** Published public, and in the search index (the index is fed from the package's alarm). */
async function publicPackage(prefix: string) {
	const name = uniqueName(prefix);
	const token = await publisherFor(name);
	expect((await publish(name, "1.0.0", token, { access: "public", manifest: { keywords: [name] } })).status).toBe(201);
	await runDurableObjectAlarm(env.PACKAGES.get(env.PACKAGES.idFromName(name)));
	return { name, token };
}

/** Published restricted, and in the search index (fed from the package's alarm) like publicPackage's. */
async function restrictedPackage(prefix: string) {
	const name = uniqueName(prefix);
	const token = await publisherFor(name);
	expect((await publish(name, "1.0.0", token, { access: "restricted", manifest: { keywords: [name] } })).status).toBe(
		201,
	);
	await runDurableObjectAlarm(env.PACKAGES.get(env.PACKAGES.idFromName(name)));
	return { name, token };
}

/** A browser's form post: urlencoded, from the registry's own origin. */
function post(path: string, form: Record<string, string>, cookie?: string) {
	const headers = new Headers({ "content-type": "application/x-www-form-urlencoded", origin: BASE });
	if (cookie) headers.set("cookie", cookie);
	return SELF.fetch(`${BASE}${path}`, { method: "POST", headers, body: new URLSearchParams(form), redirect: "manual" });
}

const cookieOf = (res: Response) => (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
const page = (path: string, cookie?: string) => SELF.fetch(`${BASE}${path}`, { headers: cookie ? { cookie } : {} });

type Metrics = { objectCalls: Record<string, number> };
async function objectCalls(): Promise<Record<string, number>> {
	return ((await (await call("/-/admin/metrics", { token: ADMIN })).json()) as Metrics).objectCalls;
}

/** The object calls one request makes (besides the metrics reads around it), and its answer. */
async function callsOf(request: () => Promise<Response>) {
	const before = await objectCalls();
	const res = await request();
	const body = await res.text();
	const after = await objectCalls();
	const calls = Object.fromEntries(Object.entries(after).map(([kind, n]) => [kind, n - (before[kind] ?? 0)]));
	return { status: res.status, cache: outcome(res), body, calls };
}

describe("#22.1 the read tier's memory budget counts keys, and keys hold only what answers depend on", () => {
	it("#22.1 counts an entry's key and headers, and keeps 40 MB of long keys within the budget", () => {
		const owner = uniqueName("keys");
		const entry = {
			status: 200,
			headers: [["etag", '"x"']] as [string, string][],
			body: "{}",
			access: null,
			rev: null,
		};
		const before = memoryStats().bytes;
		memoryPut(`${owner}:${"k".repeat(100_000)}`, owner, { ...entry, storedAt: Date.now() });
		expect(memoryStats().bytes - before).toBeGreaterThanOrEqual(200_000);
		for (let i = 0; i < 200; i++) {
			memoryPut(`${owner}:${i}:${"k".repeat(100_000)}`, owner, { ...entry, storedAt: Date.now() });
		}
		expect(memoryStats().bytes).toBeLessThanOrEqual(16 * 1024 * 1024);
		memoryForgetPackage(owner);
	});

	it("#25 keeps an entry read between evictions and lets one nobody read go first (a hit only marks its entry)", () => {
		const owner = uniqueName("clock");
		const entry = { status: 200, headers: [] as [string, string][], body: "{}", access: null, rev: null };
		const hot = `${owner}:hot`;
		const cold = `${owner}:cold`;
		memoryPut(hot, owner, { ...entry, storedAt: Date.now() });
		memoryPut(cold, owner, { ...entry, storedAt: Date.now() });
		// 200 keys of 100,000 characters: five times the budget, so the oldest go many times over.
		for (let i = 0; i < 200; i++) {
			expect(memoryGet(hot)).not.toBeNull();
			memoryPut(`${owner}:${i}:${"k".repeat(100_000)}`, owner, { ...entry, storedAt: Date.now() });
		}
		expect({ hot: memoryGet(hot) !== null, cold: memoryGet(cold) !== null }).toEqual({ hot: true, cold: false });
		expect(memoryStats().bytes).toBeLessThanOrEqual(16 * 1024 * 1024);
		memoryForgetPackage(owner);
	});

	it("#22.1 answers packument reads with unique 60 KB query strings from one entry, adding nothing", async () => {
		const { name } = await publicPackage("query-junk");
		expect(outcome(await call(`/${name}`))).toBe("miss");
		const before = memoryStats();
		for (let i = 0; i < 40; i++) {
			const res = await call(`/${name}?junk=${junk(i, 60_000)}`);
			expect(res.status).toBe(200);
			expect(outcome(res)).toBe("hit");
			await res.arrayBuffer();
		}
		expect(memoryStats()).toEqual(before);
		// What the packument does read is still told apart: ?write=true is the full form, always.
		const abbreviated = { accept: "application/vnd.npm.install-v1+json" };
		expect(outcome(await call(`/${name}?write=true`, { headers: abbreviated }))).toBe("hit");
		expect(outcome(await call(`/${name}`, { headers: abbreviated }))).toBe("miss");
	});

	it("#22.1 keys searches on text, size, from and the qualifiers, not on other parameters or text past its limit", async () => {
		const { name } = await publicPackage("search-keys");
		const search = (query: string) => call(`/-/v1/search?${query}`);
		const first = await search(`text=${name}&size=5`);
		expect(outcome(first)).toBe("miss");
		const hits = await first.text();
		expect(hits).toContain(name);
		const before = memoryStats();
		for (let i = 0; i < 20; i++) {
			const res = await search(`size=5&junk=${junk(i, 15_000)}&text=${name}`);
			expect(outcome(res)).toBe("hit");
			expect(await res.text()).toBe(hits);
		}
		expect(memoryStats()).toEqual(before);
		// Text past the 1,000 characters a search reads changes nothing.
		const long = `${name} ${"w".repeat(1_000)}`;
		expect(outcome(await search(`text=${long}x`))).toBe("miss");
		expect(outcome(await search(`text=${long}y${junk(1, 14_000)}`))).toBe("hit");
		// Everything it does read is its own entry.
		for (const query of [`text=${name}&size=6`, `text=${name}&size=5&from=1`, `text=${name}+keywords:${name}&size=5`]) {
			expect(outcome(await search(query))).toBe("miss");
		}
	});

	it("#22.1 keys the search page on q and page, and the home page on nothing", async () => {
		const { name } = await publicPackage("page-keys");
		expect(outcome(await page(`/search?q=${name}`))).toBe("miss");
		expect(outcome(await page(`/search?junk=${junk(0, 15_000)}&q=${name}&page=1`))).toBe("hit");
		expect(outcome(await page(`/search?q=${name}&page=2`))).toBe("miss");
		await page("/");
		expect(outcome(await page(`/?junk=${junk(1, 15_000)}`))).toBe("hit");
	});
});

describe("#22.6 sign-in's next is a same-origin path of printable characters, else /", () => {
	const hostile = [
		"/\t/evil.example/x",
		"/\n/evil.example/x",
		"/\r/evil.example/x",
		"/\r\nset-cookie: x=1",
		"//evil.example",
		"/\\evil.example",
		"/ /evil.example",
		"https://evil.example/",
		"/\u2028/evil.example",
		"/\u00a0x",
		"",
	];

	it("#22.6 sends a token sign-in with a hostile next to /, and keeps a good next as it is", async () => {
		const { token } = await createToken([]);
		for (const next of hostile) {
			const res = await post("/-/signin", { token, next });
			expect(res.status).toBe(303);
			expect(res.headers.get("location")).toBe("/");
		}
		const good = "/package/@scope%2Fname?tab=versions&q=a%20b#readme";
		expect((await post("/-/signin", { token, next: good })).headers.get("location")).toBe(good);
	});

	it("#22.6 offers no hostile next in the sign-in form", async () => {
		const form = await (await page(`/-/signin?next=${encodeURIComponent("/\t/evil.example/x")}`)).text();
		const nexts = [...form.matchAll(/name="next" value="([^"]*)"/g)].map((m) => m[1]);
		expect(nexts).toEqual(["/", "/"]);
	});

	it("#22.6 never answers 500 to a password sign-in with a CR or LF in next, nor leaves its login token behind", async () => {
		const user = await userWithToken([]);
		const sessionTokens = async () => {
			const res = await call(`/-/admin/tokens?user=${user.name}`, { token: ADMIN });
			const { tokens } = (await res.json()) as { tokens: { name: string }[] };
			return tokens.filter((t) => t.name.endsWith("(web session)")).length;
		};
		for (const next of ["/\r\nx", "/\nx", "/\rx"]) {
			const res = await post("/-/signin", { name: user.name, password: user.password, next });
			expect(res.status).toBe(303);
			expect(res.headers.get("location")).toBe("/");
			expect(await sessionTokens()).toBe(1);
			// The login token belongs to the session, and goes with it.
			expect((await post("/-/signout", {}, cookieOf(res))).status).toBe(303);
			expect(await sessionTokens()).toBe(0);
		}
	});
});

describe("#22.7 signing out ends a session that signed in with a pasted token", () => {
	it("#22.7 signs out a copy of the cookie replayed after sign-out, while the token itself still works", async () => {
		const { token } = await createToken([]);
		const signedIn = await post("/-/signin", { token, next: "/" });
		const cookie = cookieOf(signedIn);
		expect(await (await page("/", cookie)).text()).toContain("Signed in as");
		expect((await post("/-/signout", {}, cookie)).status).toBe(303);

		const replayed = await page("/", cookie);
		expect(await replayed.text()).toContain(">Sign in</a>");
		expect(replayed.headers.get("set-cookie")).toMatch(/Max-Age=0/);
		expect((await call("/-/whoami", { token })).status).toBe(200);

		// Another isolate asks the token's object, which holds the sign-out.
		const payload = new TextDecoder().decode(
			Uint8Array.fromBase64(cookie.split("=")[1]?.split(".")[0] ?? "", { alphabet: "base64url" }),
		);
		const [hash = "", , , id = ""] = payload.split(".");
		expect(await tokenObject(env, hash).sessionEnded(id)).toBe(true);

		// Signing in again is a new session.
		const again = cookieOf(await post("/-/signin", { token, next: "/" }));
		expect(await (await page("/", again)).text()).toContain("Signed in as");
		expect(await (await page("/", cookie)).text()).toContain(">Sign in</a>");
	});

	it("#22.7 ends the admin token's session too", async () => {
		const cookie = cookieOf(await post("/-/signin", { token: ADMIN, next: "/" }));
		expect(await (await page("/", cookie)).text()).toContain("Signed in as");
		await post("/-/signout", {}, cookie);
		expect(await (await page("/", cookie)).text()).toContain(">Sign in</a>");
	});
});

describe("#22.8 search results depend on the token's grants as they are now", () => {
	it("#22.8 drops a restricted package from the token's search, API and page, as soon as its grant is removed", async () => {
		const { name } = await restrictedPackage("ungranted");
		// A second grant keeps the token's view its own after the ungrant (with none it would be the public view).
		const reader = await createToken([
			{ package: name, permissions: ["read"] },
			{ package: uniqueName("other"), permissions: ["read"] },
		]);
		const search = () => call(`/-/v1/search?text=${name}`, { token: reader.token });
		const searchPage = () => call(`/search?q=${name}`, { token: reader.token });
		expect(await (await search()).text()).toContain(`"name":"${name}"`);
		expect(outcome(await search())).toBe("hit");
		expect(await (await searchPage()).text()).toContain(`>${name}</a>`);

		const ungrant = await call(`/-/admin/tokens/${reader.id}/grants`, {
			method: "DELETE",
			token: ADMIN,
			body: json({ package: name }),
		});
		expect(ungrant.status).toBe(200);
		expect(await (await search()).text()).not.toContain(`"name":"${name}"`);
		expect(await (await searchPage()).text()).not.toContain(`>${name}</a>`);
	});
});

describe("#22.9 an anonymous refusal of a restricted package takes the same path as a missing package", () => {
	it.each([
		["packument", (name: string) => `/${name}`],
		["tarball", (name: string) => `/${name}/-/${name}-1.0.0.tgz`],
		["version", (name: string) => `/${name}/1.0.0`],
		["page", (name: string) => `/package/${name}`],
	])("#22.9 %s: the same object calls and answer, whether the package is in memory or missing", async (_, path) => {
		const { name, token } = await restrictedPackage("hidden");
		// The publisher's read puts the restricted answer in this isolate's memory.
		const warm = await call(path(name), { token });
		expect(warm.status).toBe(200);
		await warm.arrayBuffer();
		expect(outcome(await call(path(name), { token }))).toBe("hit");

		const missing = uniqueName("hidden");
		const restricted = await callsOf(() => call(path(name)));
		const absent = await callsOf(() => call(path(missing)));
		expect(restricted.status).toBe(404);
		expect(absent.status).toBe(404);
		expect(restricted.calls).toEqual(absent.calls);
		expect(restricted.calls.package).toBe(1);
		expect(restricted.cache).toBe(absent.cache);
		expect(restricted.body.replaceAll(name, "NAME")).toBe(absent.body.replaceAll(missing, "NAME"));
	});
});

describe("#22.12 $ patterns in a token's name are text", () => {
	it("#22.12 shows a name holding $`, $' and $& once, without duplicating the page", async () => {
		const name = "pat $` $' $& $$ $1 end";
		const { token } = await createToken([], "developer", name);
		const body = await (await call("/", { token })).text();
		expect(body.split("<!doctype html>").length).toBe(2);
		expect(body.split("</html>").length).toBe(2);
		expect(body).toContain("pat $` $&#39; $&amp; $$ $1 end");
	});
});
