import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { runPackageAlarm } from "./helpers/package-object";
import { ADMIN, BASE, call, publish, uniqueName, userWithToken } from "./helpers/registry";

// The org page (#20 item 4): /-/orgs/{org} for members and the registry's admin, its forms for
// owners and admins (Origin-checked, the same rules as npm org and npm team), and the dashboard's
// list of orgs.

const json = (body: unknown) => JSON.stringify(body);

async function signIn(token: string): Promise<string> {
	const res = await post("/-/signin", { token, next: "/" });
	expect(res.status).toBe(303);
	return (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
}

function post(path: string, form: Record<string, string>, init: { cookie?: string; origin?: string | null } = {}) {
	const headers = new Headers({ "content-type": "application/x-www-form-urlencoded" });
	if (init.origin !== null) headers.set("origin", init.origin ?? BASE);
	if (init.cookie) headers.set("cookie", init.cookie);
	return SELF.fetch(`${BASE}${path}`, { method: "POST", headers, body: new URLSearchParams(form), redirect: "manual" });
}

const page = (path: string, cookie: string) => SELF.fetch(`${BASE}${path}`, { headers: { cookie } });

describe("the org page (#20)", () => {
	it("shows members the packages, teams with members and grants, activity and set-up; outsiders get 404", async () => {
		const org = uniqueName("org").replaceAll("-", "");
		const owner = await userWithToken([]);
		const dev = await userWithToken([]);
		const stranger = await userWithToken([]);
		await call(`/-/org/${org}/user`, { method: "PUT", token: ADMIN, body: json({ user: owner.name, role: "owner" }) });
		await call(`/-/org/${org}/user`, { method: "PUT", token: owner.token, body: json({ user: dev.name }) });
		await call(`/-/org/${org}/team`, { method: "PUT", token: owner.token, body: json({ name: "web" }) });
		await call(`/-/team/${org}/web/user`, { method: "PUT", token: owner.token, body: json({ user: dev.name }) });
		await call(`/-/team/${org}/web/package`, {
			method: "PUT",
			token: owner.token,
			body: json({ package: `@${org}/ui`, permissions: "read-write" }),
		});
		expect((await publish(`@${org}/ui`, "1.0.0", dev.token)).status).toBe(201);
		await runPackageAlarm(`@${org}/ui`);

		const res = await page(`/-/orgs/${org}`, await signIn(dev.token));
		expect(res.status).toBe(200);
		const text = await res.text();
		expect(text).toContain(`href="/package/@${org}/ui"`);
		expect(text).toContain(`@${org}:web`);
		expect(text).toContain(`@${org}/ui: read-write`);
		expect(text).toContain("team.grant");
		expect(text).toContain(`@${org}:registry=${BASE}/`);
		expect(text).toContain('class="copy"');
		// A developer sees no management forms.
		expect(text).not.toContain('value="create-team"');

		expect((await page(`/-/orgs/${org}`, await signIn(stranger.token))).status).toBe(404);
		const dashboard = await (
			await SELF.fetch(`${BASE}/-/dashboard`, { headers: { authorization: `Bearer ${ADMIN}` } })
		).text();
		expect(dashboard).toContain(`href="/-/orgs/${org}"`);
	});

	it("owners manage members and teams with Origin-checked forms, under npm org's rules (#20)", async () => {
		const org = uniqueName("org").replaceAll("-", "");
		const owner = await userWithToken([]);
		const dev = await userWithToken([]);
		await call(`/-/org/${org}/user`, { method: "PUT", token: ADMIN, body: json({ user: owner.name, role: "owner" }) });
		const cookie = await signIn(owner.token);

		const foreign = await post(
			`/-/orgs/${org}`,
			{ op: "set-member", user: dev.name, role: "developer" },
			{ cookie, origin: "http://evil.test" },
		);
		expect(foreign.status).toBe(403);
		const added = await post(`/-/orgs/${org}`, { op: "set-member", user: dev.name, role: "developer" }, { cookie });
		expect(added.status).toBe(303);
		expect(added.headers.get("location")).toBe(`/-/orgs/${org}#members`);
		expect((await post(`/-/orgs/${org}`, { op: "create-team", team: "web" }, { cookie })).status).toBe(303);
		expect((await post(`/-/orgs/${org}`, { op: "add-to-team", team: "web", user: dev.name }, { cookie })).status).toBe(
			303,
		);
		expect(await (await call(`/-/team/${org}/web/user`, { token: dev.token })).json()).toEqual([dev.name]);

		// A developer's form is refused as the API refuses it; so is the last owner leaving.
		const devCookie = await signIn(dev.token);
		expect((await post(`/-/orgs/${org}`, { op: "create-team", team: "mine" }, { cookie: devCookie })).status).toBe(403);
		expect((await post(`/-/orgs/${org}`, { op: "remove-member", user: owner.name }, { cookie })).status).toBe(409);
		expect((await post(`/-/orgs/${org}`, { op: "destroy-team", team: "web" }, { cookie })).status).toBe(303);
		expect(await (await call(`/-/org/${org}/team`, { token: dev.token })).json()).toEqual([]);
	});
});
