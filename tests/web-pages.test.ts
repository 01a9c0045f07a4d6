import { SELF } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { runPackageAlarm } from "./helpers/package-object";
import { ADMIN, BASE, call, createToken, publish, publisherFor, uniqueName, userWithToken } from "./helpers/registry";

// The pages for people (worker/web/), through HTTP as a browser sends it: what each page shows to
// whom (public, restricted with and without a grant, missing), the headers every page carries,
// the session cookie, the Origin check of every form, and the channel forms writing through the
// same rules and audit trail as the API.

const README = "# Widget\n\nA **fine** widget.\n\n![logo](./logo.png)\n\n<script>globalThis.pwned = 1</script>";

async function publishPublic(name: string, token: string, version = "1.0.0", files: Record<string, string> = {}) {
	const res = await publish(name, version, token, {
		access: "public",
		files: { "README.md": README, ...files },
		manifest: { keywords: ["widget"], license: "MIT", dependencies: { "not-here": "^1.0.0" } },
	});
	expect(res.status).toBe(201);
}

/** A browser's form post: urlencoded, from the registry's own origin unless told otherwise. */
function post(path: string, form: Record<string, string>, init: { cookie?: string; origin?: string | null } = {}) {
	const headers = new Headers({ "content-type": "application/x-www-form-urlencoded" });
	if (init.origin !== null) headers.set("origin", init.origin ?? BASE);
	if (init.cookie) headers.set("cookie", init.cookie);
	return SELF.fetch(`${BASE}${path}`, { method: "POST", headers, body: new URLSearchParams(form), redirect: "manual" });
}

/** Signs in with a token; answers the cookie as a browser would send it back. */
async function signIn(token: string): Promise<string> {
	const res = await post("/-/signin", { token, next: "/" });
	expect(res.status).toBe(303);
	const setCookie = res.headers.get("set-cookie") ?? "";
	return setCookie.split(";")[0] ?? "";
}

function page(path: string, cookie?: string) {
	return SELF.fetch(`${BASE}${path}`, { headers: cookie ? { cookie } : {} });
}

describe("the file browser (#24.9)", () => {
	it("lists a version's files, escaped, each linked to its page; restricted ones only for readers", async () => {
		const name = uniqueName("web-files");
		const token = await publisherFor(name);
		await publishPublic(name, token, "1.0.0", { "docs/<b>x</b>.md": "# x", "img/logo.png": "png" });
		const pkgPage = await (await page(`/package/${name}`)).text();
		expect(pkgPage).toContain(`href="/package/${name}/v/1.0.0/files"`);
		const res = await page(`/package/${name}/v/1.0.0/files`);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-security-policy")).toBeTruthy();
		const body = await res.text();
		expect(body).toContain("&lt;b&gt;x&lt;/b&gt;.md");
		expect(body).not.toContain("<b>x</b>");
		expect(body).toContain(`href="/package/${name}/v/1.0.0/files/docs/%3Cb%3Ex%3C/b%3E.md"`);
		expect(body).toContain(`href="/package/${name}/v/1.0.0/files/img/logo.png"`);
		expect(body).toContain("<td>image/png</td>");
		expect((await page(`/package/${name}/v/9.9.9/files`)).status).toBe(404);

		const secret = uniqueName("web-files-private");
		const owner = await publisherFor(secret);
		expect((await publish(secret, "1.0.0", owner, { access: "restricted" })).status).toBe(201);
		expect((await page(`/package/${secret}/v/1.0.0/files`)).status).toBe(404);
		expect((await page(`/package/${secret}/v/1.0.0/files`, await signIn(owner))).status).toBe(200);
	});
});

describe("install lines (#24.2)", () => {
	it("give a restricted scoped package its scope's set-up with the token from NPM_TOKEN, and the loader with its channel and key", async () => {
		const scope = `@${uniqueName("inst").replaceAll("-", "")}`;
		const name = `${scope}/widget`;
		const token = await publisherFor(scope);
		expect((await publish(name, "1.0.0", token, { access: "restricted" })).status).toBe(201);
		expect(
			(await call(`/packages/${name}/channels/stable`, { method: "POST", token, body: '{"version":"1.0.0"}' })).status,
		).toBe(201);
		const cookie = await signIn(token);
		const body = await (await page(`/package/${name}`, cookie)).text();
		const lines = (role: string) =>
			new RegExp(`<pre data-lines="${role}"><code>([^<]*)</code></pre>`).exec(body)?.[1]?.replaceAll("&quot;", '"');
		expect(lines("npm-setup")).toBe(`${scope}:registry=${BASE}/\n//registry.test/:_authToken=\${NPM_TOKEN}`);
		expect(lines("npm-install")).toBe(`npm install ${name}`);
		expect(lines("yarn-setup")).toBe(
			[
				"npmScopes:",
				`  ${scope.slice(1)}:`,
				`    npmRegistryServer: "${BASE}/"`,
				`    npmAuthToken: "\${NPM_TOKEN}"`,
				"    npmAlwaysAuth: true",
				'unsafeHttpWhitelist: ["registry.test"]',
				`npmPreapprovedPackages: ["${scope}/*"]`,
			].join("\n"),
		);
		expect(lines("bun-setup")).toBe(`[install.scopes]\n"${scope}" = { url = "${BASE}/", token = "$NPM_TOKEN" }`);
		expect(body).toContain("set <code>NPM_TOKEN</code> to a token that may read it");
		const loader = body.match(/<pre data-lines="loader"><code>([\s\S]*?)<\/code><\/pre>/)?.[1] ?? "";
		expect(loader).toContain(`import { load } from &quot;${BASE}/loader.js&quot;;`);
		expect(loader).toContain(`load(&quot;${name}&quot;, { channel: &quot;stable&quot;, key: &quot;blk_…&quot; })`);
		expect(body).toContain("<code>key</code> is a customer key");
	});
});

describe("every page", () => {
	it.each(["/", "/search?q=widget", "/-/signin"])("%s sends a strict CSP, nosniff and landmarks", async (path) => {
		const res = await page(path);
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
		const csp = res.headers.get("content-security-policy") ?? "";
		expect(csp).toContain("default-src 'none'");
		expect(csp).toContain("script-src 'self'");
		expect(csp).not.toContain("unsafe-inline");
		expect(csp).toContain("frame-ancestors 'none'");
		expect(res.headers.get("x-content-type-options")).toBe("nosniff");
		const body = await res.text();
		expect(body).toContain('<main id="main">');
		expect(body).toContain('<nav aria-label="Site">');
		expect(body).toMatch(/<a href="\/-\/signin\?next=[^"]*">Sign in<\/a>/);
		// No inline script or style: the one script and stylesheet are files.
		expect(body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
		expect(body).not.toMatch(/<style|\sstyle=/);
	});

	it("serves the script and stylesheet the pages load, as files of the registry", async () => {
		const css = await page("/-/web/site.css");
		expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
		expect(await css.text()).toContain(".readme");
		const js = await page("/-/web/site.js");
		expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
		expect(await js.text()).toContain("clipboard");
	});

	it("keeps the npm protocol's routes: GET /{name} is still the packument", async () => {
		const name = uniqueName("web-proto");
		await publishPublic(name, await publisherFor(name));
		const packument = await page(`/${name}`);
		expect(packument.headers.get("content-type")).toContain("application/json");
		expect(((await packument.json()) as { name: string }).name).toBe(name);
	});
});

describe("the package page", () => {
	it("shows a public package to anyone: README, install commands, versions, tags, chart, dependencies", async () => {
		const name = uniqueName("web-public");
		const dep = uniqueName("web-dep");
		const token = (
			await createToken([
				{ package: name, permissions: ["read", "upload", "publish"] },
				{ package: dep, permissions: ["read", "upload", "publish"] },
			])
		).token;
		await publishPublic(dep, token);
		await runPackageAlarm(dep);
		await publishPublic(name, token);
		const two = await publish(name, "2.0.0", token, {
			access: "public",
			files: { "README.md": "# Two" },
			manifest: { dependencies: { [dep]: "^1.0.0", "not-here": "^1.0.0" }, description: "the second" },
		});
		expect(two.status).toBe(201);

		const res = await page(`/package/${name}`);
		expect(res.status).toBe(200);
		const body = await res.text();
		expect(body).toContain(`<h1 id="package-name">${name}</h1>`);
		expect(body).toContain("<h1>Two</h1>");
		// Each client's set-up for this registry, then the plain command; no --registry to wrap (#24.2).
		expect(body).toContain(`<code>registry=${BASE}/</code>`);
		expect(body).toContain(`<code>npm install ${name}</code>`);
		expect(body).toContain(`<code>pnpm add ${name}</code>`);
		expect(body).toContain(`<code>bun add ${name}</code>`);
		expect(body).toContain(`<code>yarn add ${name}</code>`);
		expect(body).toContain(`unsafeHttpWhitelist: [&quot;registry.test&quot;]`);
		expect(body).not.toContain("--registry");
		expect(body).not.toContain("NPM_TOKEN");
		expect(body).toMatch(/<svg[^>]*role="img"/);
		expect(body).toContain("Weekly downloads");
		// The page's figure and the lists' say how fresh each is (#24.7).
		expect(body).toContain("The last 7 days, counted as they come; lists and search may be a few minutes behind.");
		await runPackageAlarm(name);
		const listed = await (await page(`/search?q=${encodeURIComponent(name)}`)).text();
		expect(listed).toContain(`href="/package/${name}"`);
		expect(listed).toMatch(/Weekly downloads here are the last 7 days as of up to \d+ minutes? ago/);
		expect(body).toContain(`href="/package/${name}/v/1.0.0"`);
		// A dependency in this registry is linked; one that is not, is not.
		expect(body).toContain(`<a href="/package/${dep}">${dep}</a>`);
		expect(body).toMatch(/<li>not-here <code>/);

		const older = await page(`/package/${name}/v/1.0.0`);
		expect(older.status).toBe(200);
		const olderBody = await older.text();
		expect(olderBody).toContain("<strong>fine</strong>");
		expect(olderBody).not.toContain("<script>globalThis");
		expect(olderBody).not.toContain("pwned");
		// The README's relative image points at the version's own files.
		expect(olderBody).toContain(`src="${BASE}/files/${name}@1.0.0/logo.png"`);
		expect(olderBody).toContain(`npm install ${name}@1.0.0`);
	});

	it("is the same 404 for a missing package and a restricted one without a grant; shown with one", async () => {
		const name = uniqueName("web-restricted");
		const token = await publisherFor(name);
		expect((await publish(name, "1.0.0", token, { files: { "README.md": "# secret" } })).status).toBe(201);

		const missing = await page(`/package/${uniqueName("web-missing")}`);
		const hidden = await page(`/package/${name}`);
		expect(missing.status).toBe(404);
		expect(hidden.status).toBe(404);
		// Only the sign-in link's `next` (the path asked for) differs.
		const [a, b] = [(await missing.text()).replace(/next=[^"]*/, ""), (await hidden.text()).replace(/next=[^"]*/, "")];
		expect(b).not.toContain(name);
		expect(b).not.toContain("secret");
		expect(a).toBe(b);

		const stranger = await createToken([{ package: uniqueName("other"), permissions: ["read"] }]);
		expect((await page(`/package/${name}`, await signIn(stranger.token))).status).toBe(404);

		const reader = await createToken([{ package: name, permissions: ["read"] }], "customer");
		const granted = await page(`/package/${name}`, await signIn(reader.token));
		expect(granted.status).toBe(200);
		const body = await granted.text();
		expect(body).toContain("<h1>secret</h1>");
		expect(body).toContain("restricted");
		expect(body).toContain("Signed in as");
		// Files of a restricted package are linked under their capability URL.
		expect(body).toMatch(new RegExp(`${BASE}/files/~[A-Za-z0-9_-]+/${name}@1.0.0/package.json`));
		// An Authorization header works as well as a session.
		const byHeader = await SELF.fetch(`${BASE}/package/${name}`, {
			headers: { authorization: `Bearer ${reader.token}` },
		});
		expect(byHeader.status).toBe(200);
		// A version that does not exist is a 404 page for those who may read the package.
		expect((await page(`/package/${name}/v/9.9.9`, await signIn(reader.token))).status).toBe(404);
	});

	it("serves a public package's page through the read tier", async () => {
		const name = uniqueName("web-tier");
		await publishPublic(name, await publisherFor(name));
		expect((await page(`/package/${name}`)).headers.get("x-registry-cache")).toBe("miss");
		expect((await page(`/package/${name}`)).headers.get("x-registry-cache")).toBe("hit");
	});
});

describe("home and search pages", () => {
	it("list public packages to everyone and restricted ones only to those who may read them", async () => {
		const word = `zq${Date.now().toString(36)}`;
		const open = `${word}-open`;
		const closed = `${word}-closed`;
		const token = (
			await createToken([
				{ package: open, permissions: ["read", "upload", "publish"] },
				{ package: closed, permissions: ["read", "upload", "publish"] },
			])
		).token;
		await publishPublic(open, token);
		expect((await publish(closed, "1.0.0", token)).status).toBe(201);
		await runPackageAlarm(open);
		await runPackageAlarm(closed);

		const anonymous = await (await page(`/search?q=${word}`)).text();
		expect(anonymous).toContain(`href="/package/${open}"`);
		expect(anonymous).not.toContain(closed);
		expect(anonymous).toContain("1 package for");

		const cookie = await signIn(token);
		const signedIn = await (await page(`/search?q=${word}`, cookie)).text();
		expect(signedIn).toContain(`href="/package/${closed}"`);
		expect(signedIn).toContain("2 packages for");

		const qualified = await (await page(`/search?q=${encodeURIComponent(`keywords:widget ${word}`)}`)).text();
		expect(qualified).toContain(`href="/package/${open}"`);

		const home = await (await SELF.fetch(`${BASE}/`, { headers: { "cache-control": "no-cache" } })).text();
		expect(home).toContain("Recently published");
		expect(home).toContain(`href="/package/${open}"`);
		expect(home).not.toContain(closed);
	});

	it("pages through results and refuses a page out of range", async () => {
		expect((await page("/search?q=x&page=0")).status).toBe(400);
		expect((await page("/search?q=x&page=abc")).status).toBe(400);
		expect((await page("/search?q=")).status).toBe(200);
	});
});

describe("sessions", () => {
	it("sets an HttpOnly, SameSite=Strict, Secure cookie that never holds the token", async () => {
		const { token } = await createToken([]);
		const res = await post("/-/signin", { token, next: "/search?q=a" });
		expect(res.status).toBe(303);
		expect(res.headers.get("location")).toBe("/search?q=a");
		const cookie = res.headers.get("set-cookie") ?? "";
		expect(cookie).toMatch(/^__Host-registry-session=/);
		expect(cookie).toContain("HttpOnly");
		expect(cookie).toContain("SameSite=Strict");
		expect(cookie).toContain("Secure");
		expect(cookie).toContain("Path=/");
		expect(cookie).toMatch(/Max-Age=\d+/);
		expect(cookie).not.toContain(token);
		expect(cookie).not.toContain(token.slice(4, 20));
	});

	it("leaves Secure off on plain-http loopback only", async () => {
		const { token } = await createToken([]);
		const res = await SELF.fetch("http://127.0.0.1/-/signin", {
			method: "POST",
			headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://127.0.0.1" },
			body: new URLSearchParams({ token }),
			redirect: "manual",
		});
		const cookie = res.headers.get("set-cookie") ?? "";
		expect(cookie).toMatch(/^registry-session=/);
		expect(cookie).toContain("HttpOnly");
		expect(cookie).toContain("SameSite=Strict");
		expect(cookie).not.toContain("Secure");
	});

	it("refuses a wrong token, a tampered cookie, and a cookie on the API", async () => {
		const wrong = await post("/-/signin", { token: `dev_${"0".repeat(40)}` });
		expect(wrong.status).toBe(401);
		expect(wrong.headers.get("set-cookie")).toBeNull();
		expect(await wrong.text()).toContain("invalid, expired or revoked token");
		// The prefix a token is listed by, pasted for the token, is said to be that (#24.6).
		const partial = await post("/-/signin", { token: "dev_a3f8e2c1" });
		expect(partial.status).toBe(401);
		const partialText = await partial.text();
		expect(partialText).toContain("only the start of a token");
		expect(partialText).not.toContain("tokens start with");

		const { token } = await createToken([]);
		const cookie = await signIn(token);
		const tampered = `${cookie.slice(0, -3)}${cookie.endsWith("A") ? "B" : "A"}AA`;
		const asAnonymous = await (await page("/", tampered)).text();
		expect(asAnonymous).toContain(">Sign in</a>");
		// The API never reads the cookie: only an Authorization header is anyone there.
		expect((await page("/-/whoami", cookie)).status).toBe(401);
	});

	it("ends with the token: a revoked token's session is signed out", async () => {
		const created = await createToken([]);
		const cookie = await signIn(created.token);
		expect(await (await page("/", cookie)).text()).toContain("Signed in as");
		await call(`/-/admin/tokens/${created.id}`, { method: "DELETE", token: ADMIN });
		const after = await page("/", cookie);
		expect(await after.text()).toContain(">Sign in</a>");
		expect(after.headers.get("set-cookie")).toMatch(/Max-Age=0/);
	});

	it("signs in with npm login credentials and revokes the minted token at sign-out", async () => {
		const user = await userWithToken([]);
		const res = await post("/-/signin", { name: user.name, password: user.password });
		expect(res.status).toBe(303);
		const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
		expect(await (await page("/", cookie)).text()).toContain(`Signed in as <strong>${user.name}</strong>`);
		const out = await post("/-/signout", {}, { cookie });
		expect(out.status).toBe(303);
		expect(out.headers.get("set-cookie")).toMatch(/Max-Age=0/);
		// The cookie replayed after sign-out names a revoked token: signed out.
		expect(await (await page("/", cookie)).text()).toContain(">Sign in</a>");

		const bad = await post("/-/signin", { name: user.name, password: "not the password" });
		expect(bad.status).toBe(401);
		expect(await bad.text()).toContain("incorrect username or password");
	});

	it("refuses sign-in and sign-out forms without the registry's Origin (CSRF)", async () => {
		const { token } = await createToken([]);
		for (const origin of [null, "https://evil.example", "null"]) {
			const res = await post("/-/signin", { token }, { origin });
			expect(res.status).toBe(403);
			expect(res.headers.get("set-cookie")).toBeNull();
		}
		const cookie = await signIn(token);
		expect((await post("/-/signout", {}, { cookie, origin: "https://evil.example" })).status).toBe(403);
	});
});

describe("channel forms on the package page", () => {
	async function released() {
		const name = uniqueName("web-channels");
		const token = await publisherFor(name);
		for (const version of ["1.0.0", "1.1.0", "1.2.0"]) {
			expect((await publish(name, version, token, { access: "public" })).status).toBe(201);
			const moved = await call(`/packages/${name}/channels/stable`, {
				method: "POST",
				token,
				body: JSON.stringify({ version }),
			});
			expect(moved.status).toBe(201);
		}
		return { name, token };
	}

	const stableVersion = async (name: string) =>
		((await (await call(`/packages/${name}/channels/stable`)).json()) as { version: string }).version;

	it("shows the forms to publishers only", async () => {
		const { name, token } = await released();
		const publisherPage = await (await page(`/package/${name}`, await signIn(token))).text();
		expect(publisherPage).toContain(`action="/package/${name}/channels/stable/rollback"`);
		expect(publisherPage).toContain("Promote a channel");
		const reader = await createToken([{ package: name, permissions: ["read"] }]);
		const readerPage = await (await page(`/package/${name}`, await signIn(reader.token))).text();
		expect(readerPage).not.toContain("/rollback");
		expect(readerPage).toContain("stable");
	});

	it("rolls back one step and to an earlier entry, as the API does, in the audit trail", async () => {
		const { name, token } = await released();
		const cookie = await signIn(token);
		const res = await post(`/package/${name}/channels/stable/rollback`, {}, { cookie });
		expect(res.status).toBe(303);
		// The page it sends back to says what was done (#24.4).
		expect(res.headers.get("location")).toBe(
			`/package/${name}?done=${encodeURIComponent("stable rolled back to 1.1.0")}#channel-stable`,
		);
		expect(await stableVersion(name)).toBe("1.1.0");

		const history = (await (await call(`/packages/${name}/channels/stable/history`, { token })).json()) as {
			history: { id: number; version: string }[];
		};
		const first = history.history.find((h) => h.version === "1.0.0");
		expect(
			(await post(`/package/${name}/channels/stable/rollback`, { to: String(first?.id) }, { cookie })).status,
		).toBe(303);
		expect(await stableVersion(name)).toBe("1.0.0");
		// The page shows the move at once (the write dropped the cached page).
		expect(await (await page(`/package/${name}`, cookie)).text()).toMatch(
			/stable <span class="arrow"[^>]*>→<\/span> <a [^>]*>1\.0\.0</,
		);

		const audit = (await (await call(`/packages/${name}/audit`, { token: ADMIN })).json()) as {
			entries: { action: string; actor: string }[];
		};
		expect(audit.entries.filter((e) => e.action === "channel.rollback")).toHaveLength(2);

		// The API's rules hold: nothing earlier than the chain's start.
		const refused = await post(`/package/${name}/channels/stable/rollback`, {}, { cookie });
		expect(refused.status).toBe(409);
		expect(refused.headers.get("content-type")).toBe("text/html; charset=utf-8");
	});

	it("promotes one channel to another", async () => {
		const { name, token } = await released();
		const cookie = await signIn(token);
		await call(`/packages/${name}/channels/beta`, {
			method: "POST",
			token,
			body: JSON.stringify({ version: "1.0.0" }),
		});
		const res = await post(`/package/${name}/promote`, { to: "stable", from: "beta" }, { cookie });
		expect(res.status).toBe(303);
		expect(await stableVersion(name)).toBe("1.0.0");
	});

	it("shows rollbacks and promotions in the history with the time of day, and asks before moving stable (#24.4)", async () => {
		const { name, token } = await released();
		const cookie = await signIn(token);
		await call(`/packages/${name}/channels/beta`, {
			method: "POST",
			token,
			body: JSON.stringify({ version: "1.0.0" }),
		});
		const before = await (await page(`/package/${name}`, cookie)).text();
		// Promote defaults to something that moves: stable from beta, not stable onto itself.
		expect(before).toMatch(/<select id="promote-from" name="to">.*<option selected>stable<\/option>/s);
		expect(before).toMatch(/<select id="promote-to" name="from">.*<option selected>beta<\/option>/s);
		expect(before).toContain('data-moves-field="to"');
		expect(before).toContain('data-moves="stable" data-what="Roll stable back one step"');

		expect((await post(`/package/${name}/channels/stable/rollback`, {}, { cookie })).status).toBe(303);
		expect((await post(`/package/${name}/promote`, { to: "stable", from: "beta" }, { cookie })).status).toBe(303);
		const after = await (await page(`/package/${name}`, cookie)).text();
		const stable = after.slice(after.indexOf('id="channel-stable"'), after.indexOf('id="channel-stable"') + 6000);
		expect(stable).toContain('<span class="event">promoted from beta</span>');
		expect(stable).toContain('<span class="event">rolled back from 1.2.0</span>');
		expect(stable).toMatch(/<time datetime="[^"]+">\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC<\/time>/);
		const history = (await (await call(`/packages/${name}/channels/stable/history`, { token })).json()) as {
			history: { version: string; event: string; current: boolean }[];
		};
		expect(history.history.slice(0, 2).map((h) => [h.version, h.event, h.current])).toEqual([
			["1.0.0", "promote", true],
			["1.1.0", "rollback", false],
		]);
	});

	it("offers no rollout on latest of an ordinary package (#24.4)", async () => {
		const name = uniqueName("web-ordinary");
		const token = await publisherFor(name);
		for (const version of ["1.0.0", "1.1.0"]) {
			expect((await publish(name, version, token, { access: "public" })).status).toBe(201);
		}
		const body = await (await page(`/package/${name}`, await signIn(token))).text();
		expect(body).toContain('id="channel-latest"');
		expect(body).not.toContain("Start rollout");
	});

	it("shows and steers a staged rollout: start, widen, revert and complete, as the API does (#13)", async () => {
		const { name, token } = await released();
		const cookie = await signIn(token);
		// stable is on 1.2.0: roll 1.0.0 out to a quarter of the clients from the page.
		const started = await post(
			`/package/${name}/channels/stable/rollout`,
			{ version: "1.0.0", percent: "25" },
			{ cookie },
		);
		expect(started.status).toBe(303);
		const rollout = async () =>
			(
				(await (await call(`/packages/${name}/channels/stable`, { token })).json()) as {
					version: string;
					rollout: { version: string; percent: number } | null;
				}
			).rollout ?? null;
		expect(await rollout()).toMatchObject({ version: "1.0.0", percent: 25 });
		let shown = await (await page(`/package/${name}`, cookie)).text();
		expect(shown).toMatch(/Rolling out <a [^>]*>1\.0\.0<\/a> to <strong>25%<\/strong> of clients/);
		expect(shown).toContain(`action="/package/${name}/channels/stable/rollout/revert"`);
		expect(shown).toContain("rollout started at 25%");
		// A reader sees the rollout, not the forms.
		const reader = await createToken([{ package: name, permissions: ["read"] }], "developer", "rollout-reader");
		const readerPage = await (await page(`/package/${name}`, await signIn(reader.token))).text();
		expect(readerPage).toContain("Rolling out");
		expect(readerPage).not.toContain("/rollout");

		expect((await post(`/package/${name}/channels/stable/rollout`, { percent: "60" }, { cookie })).status).toBe(303);
		expect(await rollout()).toMatchObject({ version: "1.0.0", percent: 60 });
		shown = await (await page(`/package/${name}`, cookie)).text();
		expect(shown).toContain("rollout changed from 25% to 60%");
		// Bad input is refused with the API's message and changes nothing.
		const refused = await post(`/package/${name}/channels/stable/rollout`, { percent: "140" }, { cookie });
		expect(refused.status).toBe(400);
		expect(await refused.text()).toContain("percent must be a number from 0 to 100");
		expect(await rollout()).toMatchObject({ percent: 60 });

		expect((await post(`/package/${name}/channels/stable/rollout/revert`, {}, { cookie })).status).toBe(303);
		expect(await rollout()).toBeNull();
		expect(await stableVersion(name)).toBe("1.2.0");
		expect(
			(await post(`/package/${name}/channels/stable/rollout`, { version: "1.1.0", percent: "10" }, { cookie })).status,
		).toBe(303);
		expect((await post(`/package/${name}/channels/stable/rollout/complete`, {}, { cookie })).status).toBe(303);
		expect(await stableVersion(name)).toBe("1.1.0");
		expect(await rollout()).toBeNull();
		shown = await (await page(`/package/${name}`, cookie)).text();
		expect(shown).toContain("rollout completed");
		expect(shown).toContain("rollout reverted");

		const audit = (await (await call(`/packages/${name}/audit`, { token: ADMIN })).json()) as {
			entries: { action: string }[];
		};
		expect(audit.entries.map((e) => e.action).filter((a) => a.startsWith("rollout."))).toEqual([
			"rollout.complete",
			"rollout.start",
			"rollout.revert",
			"rollout.change",
			"rollout.start",
		]);
	});

	it("refuses a form without the registry's Origin, and a reader's form, changing nothing", async () => {
		const { name, token } = await released();
		const cookie = await signIn(token);
		for (const origin of [null, "https://evil.example"]) {
			expect((await post(`/package/${name}/channels/stable/rollback`, {}, { cookie, origin })).status).toBe(403);
		}
		expect(await stableVersion(name)).toBe("1.2.0");

		const reader = await createToken([{ package: name, permissions: ["read"] }], "developer", "page-reader");
		const refused = await post(`/package/${name}/channels/stable/rollback`, {}, { cookie: await signIn(reader.token) });
		expect(refused.status).toBe(403);
		expect(await stableVersion(name)).toBe("1.2.0");
		const anonymous = await post(`/package/${name}/channels/stable/rollback`, {});
		expect(anonymous.status).toBe(401);
		expect(await stableVersion(name)).toBe("1.2.0");

		// The refusal is in the registry's audit log, for the dashboard (written after the answer,
		// through waitUntil: polled for, not waited for).
		await vi.waitFor(
			async () => {
				const log = (await (await call("/-/admin/audit?limit=50", { token: ADMIN })).json()) as {
					entries: { action: string; target: string; prefix: string | null }[];
				};
				expect(
					log.entries.some((e) => e.action === "write.refused" && e.target === name && e.prefix === reader.prefix),
				).toBe(true);
			},
			{ timeout: 5_000, interval: 10 },
		);
	});
});

describe("the dashboard", () => {
	it("is for admins: totals, charts, top and recent packages, failures and refusals", async () => {
		const name = uniqueName("web-dash");
		await publishPublic(name, await publisherFor(name));
		await runPackageAlarm(name);
		await post("/-/signin", { token: `dev_${"1".repeat(40)}` });

		const res = await page("/-/dashboard", await signIn(ADMIN));
		expect(res.status).toBe(200);
		const body = await res.text();
		expect(body).toContain("Packages");
		expect(body).toContain("Versions");
		expect(body).toContain("Downloads per day");
		expect(body).toMatch(/<svg[^>]*role="img"/);
		expect(body).toContain(`href="/package/${name}"`);
		expect(body).toContain("Recent failed authentications");
		expect(body).toContain("auth.failed");
		expect(body).toContain("Hit rate");
		// The isolate's counters start at its first request, not at workerd's frozen module-scope clock (#24.9).
		expect(body).not.toContain("1970-01-01");
		expect(body).toMatch(/Read tier \(this isolate, since 20\d\d-/);

		expect((await page("/-/dashboard")).status).toBe(401);
		const developer = await createToken([]);
		expect((await page("/-/dashboard", await signIn(developer.token))).status).toBe(403);
	});
});

describe("files under /files/", () => {
	it("serve HTML, SVG and XML as downloads under a sandbox, and scripts and CSS as they are", async () => {
		const name = uniqueName("web-files");
		await publishPublic(name, await publisherFor(name), "1.0.0", {
			"demo.html": "<script>alert(1)</script>",
			"icon.svg": "<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
			"feed.xml": "<x/>",
			"styles.css": "a { color: red }",
		});
		for (const file of ["demo.html", "icon.svg", "feed.xml"]) {
			const res = await page(`/files/${name}@1.0.0/${file}`);
			expect(res.status).toBe(200);
			expect(res.headers.get("content-disposition")).toBe("attachment");
			expect(res.headers.get("content-security-policy")).toMatch(/sandbox/);
			expect(res.headers.get("content-type")).not.toMatch(/text\/html|application\/xhtml|text\/xml|application\/xml/);
		}
		const js = await page(`/files/${name}@1.0.0/index.js`);
		expect(js.headers.get("content-disposition")).toBeNull();
		expect(js.headers.get("content-security-policy")).toBeNull();
		const css = await page(`/files/${name}@1.0.0/styles.css`);
		expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
		expect(css.headers.get("content-disposition")).toBeNull();
	});
});
