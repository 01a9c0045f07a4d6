import { describe, expect, it } from "vitest";
import { runPackageAlarm } from "./helpers/package-object";
import { ADMIN, ALL, call, createToken, publish, readPackument, uniqueName, userWithToken } from "./helpers/registry";

// npm access (visibility, status, collaborators, package lists) and npm owner (maintainers mapped
// onto users' publish grants), with the requests npm 11 sends.

const json = (body: unknown) => JSON.stringify(body);

describe("npm access", () => {
	it("gets and sets a package's status, and only publishers may set it", async () => {
		const scope = `@${uniqueName("ac").replaceAll("-", "")}`;
		const name = `${scope}/lib`;
		const owner = await userWithToken([{ scope, permissions: ALL }]);
		const reader = (await createToken([{ scope, permissions: ["read"] }])).token;
		await publish(name, "1.0.0", owner.token);
		const visibility = async () =>
			(await (await call(`/-/package/${name}/visibility`, { token: owner.token })).json()) as object;
		expect(await visibility()).toEqual({ public: false });
		expect((await call(`/${name}`)).status).toBe(404);

		const set = (token: string | null, access: string) =>
			call(`/-/package/${scope}%2flib/access`, { method: "POST", token, body: json({ access }) });
		expect((await set(reader, "public")).status).toBe(403);
		expect((await set(null, "public")).status).toBe(401);
		expect((await set(owner.token, "everyone")).status).toBe(400);
		expect((await set(owner.token, "public")).status).toBe(200);
		expect(await visibility()).toEqual({ public: true });
		expect((await call(`/${name}`)).status).toBe(200);
		expect((await call(`/-/package/${name}/visibility`)).status).toBe(200);
		expect((await set(owner.token, "restricted")).status).toBe(200);
		expect((await call(`/${name}`)).status).toBe(404);

		const unscoped = uniqueName("plain");
		await publish(unscoped, "1.0.0", (await createToken([{ package: unscoped, permissions: ALL }])).token);
		const refused = await call(`/-/package/${unscoped}/access`, {
			method: "POST",
			token: ADMIN,
			body: json({ access: "restricted" }),
		});
		expect(refused.status).toBe(422);
	});

	it("lists collaborators and packages from grants", async () => {
		const scope = `@${uniqueName("co").replaceAll("-", "")}`;
		const name = `${scope}/lib`;
		const writer = await userWithToken([{ scope, permissions: ALL }]);
		const viewer = await userWithToken([{ package: name, permissions: ["read"] }]);
		await publish(name, "1.0.0", writer.token);
		await publish(`${scope}/other`, "1.0.0", writer.token);
		const collaborators = await call(`/-/package/${name}/collaborators`, { token: writer.token });
		expect(await collaborators.json()).toEqual({ [writer.name]: "read-write", [viewer.name]: "read-only" });
		expect((await call(`/-/package/${name}/collaborators`)).status).toBe(404);

		// The scope's packages come from the search index, which the objects' alarms fill.
		await runPackageAlarm(name);
		await runPackageAlarm(`${scope}/other`);
		const org = await call(`/-/org/${scope.slice(1)}/package`, { token: writer.token });
		expect(org.status).toBe(200);
		expect(await org.json()).toEqual({ [name]: "read-write", [`${scope}/other`]: "read-write" });
		expect(await (await call(`/-/org/${scope.slice(1)}/package`, { token: viewer.token })).json()).toEqual({
			[name]: "read-only",
		});
		expect(await (await call(`/-/user/${viewer.name}/package`, { token: viewer.token })).json()).toEqual({
			[name]: "read-only",
		});
		expect((await call(`/-/user/${writer.name}/package`, { token: viewer.token })).status).toBe(403);
		expect((await call(`/-/org/nobody-${Date.now()}/package`, { token: viewer.token })).status).toBe(404);
	});
});

describe("npm owner", () => {
	it("gives a token publisher, which has no email, an empty one, so npm prints no <undefined> (#24.6)", async () => {
		const name = uniqueName("own");
		const ci = (await createToken([{ package: name, permissions: ALL }], "developer", "ci")).token;
		expect((await publish(name, "1.0.0", ci)).status).toBe(201);
		const doc = (await (await call(`/${name}`, { token: ci })).json()) as {
			maintainers: { name: string; email?: string }[];
			versions: Record<string, { _npmUser: { email?: string }; maintainers: { email?: string }[] }>;
		};
		expect(doc.maintainers).toEqual([{ name: "ci", email: "" }]);
		expect(doc.versions["1.0.0"]?._npmUser.email).toBe("");
		expect(doc.versions["1.0.0"]?.maintainers).toEqual([{ name: "ci", email: "" }]);
	});

	it("adds and removes owners: maintainers and publish grants follow", async () => {
		const name = uniqueName("own");
		const alice = await userWithToken([{ package: name, permissions: ALL }]);
		const bob = await userWithToken([]);
		await publish(name, "1.0.0", alice.token);
		expect((await call(`/${name}`, { token: bob.token })).status).toBe(404);

		// Another user sees the name npm owner add needs, never the email (#9 item 7).
		const user = await call(`/-/user/org.couchdb.user:${bob.name}`, { token: alice.token });
		const document = (await user.json()) as { name: string; email?: string };
		expect(document).toMatchObject({ name: bob.name });
		expect(document.email).toBeUndefined();
		expect((await call(`/-/user/org.couchdb.user:${bob.name}`)).status).toBe(401);
		expect((await call("/-/user/org.couchdb.user:nobody-at-all", { token: alice.token })).status).toBe(404);

		const change = async (token: string, maintainers: string[]) => {
			const { _rev } = await readPackument(name, ADMIN);
			return call(`/${name}/-rev/${_rev}`, {
				method: "PUT",
				token,
				body: json({ _id: name, _rev, maintainers: maintainers.map((n) => ({ name: n, email: `${n}@example.com` })) }),
			});
		};
		expect((await change(bob.token, [alice.name, bob.name])).status).toBe(403);
		expect((await change(alice.token, [alice.name, bob.name])).status).toBe(200);
		const doc = await readPackument(name, alice.token);
		expect(doc.maintainers.map((m) => m.name)).toEqual([alice.name, bob.name]);
		expect((await publish(name, "1.0.1", bob.token)).status).toBe(201);

		expect((await change(alice.token, [alice.name])).status).toBe(200);
		expect((await readPackument(name, alice.token)).maintainers.map((m) => m.name)).toEqual([alice.name]);
		expect((await publish(name, "1.0.2", bob.token)).status).toBe(403);
		expect((await change(alice.token, [])).status).toBe(422);
		expect((await change(alice.token, [alice.name, "no-such-user"])).status).toBe(404);
		const stale = await call(`/${name}/-rev/1-stale`, {
			method: "PUT",
			token: alice.token,
			body: json({ _id: name, maintainers: [{ name: alice.name }] }),
		});
		expect(stale.status).toBe(409);
	});
});
