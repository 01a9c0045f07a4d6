import { env, runInDurableObject } from "cloudflare:test";
import * as OTPAuth from "otpauth";
import { describe, expect, it } from "vitest";
import { PUSH_BATCH, TokenPushes } from "../durable-objects/auth/token-pushes";
import type { TokenRecord } from "../schema/auth/contract";
import type { Result } from "../schema/errors";
import { randomHex, sha256Hex } from "../schema/hashing";
import { runPackageAlarm } from "./helpers/package-object";
import { ADMIN, ALL, call, publish, uniqueName, userWithToken } from "./helpers/registry";

// Organisations (#20): roles, teams, team grants, what members may read and publish, and that every
// change reaches the tokens of the users it touches, with the requests npm 11's libnpmorg,
// libnpmteam and libnpmaccess send.

const json = (body: unknown) => JSON.stringify(body);
const send = (token: string, method: string, path: string, body?: unknown) =>
	call(path, { method, token, ...(body === undefined ? {} : { body: json(body) }) });
type User = Awaited<ReturnType<typeof userWithToken>>;

/** A fresh org with its owner (made by the registry's admin) and more users with their login tokens. */
async function orgWith(...roles: ("admin" | "developer")[]) {
	const org = uniqueName("org").replaceAll("-", "");
	const owner = await userWithToken([]);
	const made = await send(ADMIN, "PUT", `/-/org/${org}/user`, { user: owner.name, role: "owner" });
	expect(made.status).toBe(200);
	const members: User[] = [];
	for (const role of roles) {
		const user = await userWithToken([]);
		expect((await send(owner.token, "PUT", `/-/org/${org}/user`, { user: user.name, role })).status).toBe(200);
		members.push(user);
	}
	return { org, scope: `@${org}`, owner, members };
}

async function tokenRecord(token: string): Promise<TokenRecord | null> {
	const hash = await sha256Hex(token);
	const result: Result<TokenRecord> = await env.TOKENS.get(env.TOKENS.idFromName(hash)).get();
	return result.ok ? result.value : null;
}

describe("orgs: membership and roles (#20)", () => {
	it("the registry's admin creates an org by naming its first owner; npm org ls lists it to members only", async () => {
		const org = uniqueName("org").replaceAll("-", "");
		const alice = await userWithToken([]);
		const stranger = await userWithToken([]);
		// Only the registry's admin starts an org, and only with an owner.
		expect((await send(alice.token, "PUT", `/-/org/${org}/user`, { user: alice.name, role: "owner" })).status).toBe(
			404,
		);
		expect((await send(ADMIN, "PUT", `/-/org/${org}/user`, { user: alice.name })).status).toBe(422);
		const made = await send(ADMIN, "PUT", `/-/org/${org}/user`, { user: alice.name, role: "owner" });
		expect(await made.json()).toEqual({ org: { name: org, size: 1 }, user: alice.name, role: "owner" });
		// npm org set without a role makes a developer.
		const bob = await userWithToken([]);
		const added = await send(alice.token, "PUT", `/-/org/@${org}/user`, { user: bob.name, role: null });
		expect(await added.json()).toEqual({ org: { name: org, size: 2 }, user: bob.name, role: "developer" });

		const ls = await call(`/-/org/${org}/user`, { token: bob.token });
		expect(await ls.json()).toEqual({ [alice.name]: "owner", [bob.name]: "developer" });
		expect((await call(`/-/org/${org}/user`, { token: stranger.token })).status).toBe(404);
		expect((await call(`/-/org/${org}/user`)).status).toBe(401);
		expect((await call(`/-/org/${org}/user`, { token: ADMIN })).status).toBe(200);
	});

	it("a developer cannot create teams or change membership (#20)", async () => {
		const { org, owner, members } = await orgWith("developer");
		const [dev] = members as [User];
		const other = await userWithToken([]);
		const setMember = await send(dev.token, "PUT", `/-/org/${org}/user`, { user: other.name, role: "developer" });
		expect(setMember.status).toBe(403);
		expect(await setMember.json()).toMatchObject({ code: "forbidden" });
		expect((await send(dev.token, "DELETE", `/-/org/${org}/user`, { user: owner.name })).status).toBe(403);
		expect((await send(dev.token, "PUT", `/-/org/${org}/team`, { name: "web" })).status).toBe(403);
		expect((await send(owner.token, "PUT", `/-/org/${org}/team`, { name: "web" })).status).toBe(201);
		expect((await send(dev.token, "PUT", `/-/team/${org}/web/user`, { user: dev.name })).status).toBe(403);
		expect((await send(dev.token, "DELETE", `/-/team/${org}/web`)).status).toBe(403);
		expect(
			(await send(dev.token, "PUT", `/-/team/${org}/web/package`, { package: `@${org}/ui`, permissions: "read-write" }))
				.status,
		).toBe(403);
		// A developer may still leave.
		expect((await send(dev.token, "DELETE", `/-/org/${org}/user`, { user: dev.name })).status).toBe(204);
		expect(await (await call(`/-/org/${org}/user`, { token: owner.token })).json()).toEqual({ [owner.name]: "owner" });
	});

	it("an admin manages teams and developers but cannot remove an owner; the last owner cannot leave (#20)", async () => {
		const { org, owner, members } = await orgWith("admin", "developer");
		const [admin, dev] = members as [User, User];
		const removeOwner = await send(admin.token, "DELETE", `/-/org/${org}/user`, { user: owner.name });
		expect(removeOwner.status).toBe(403);
		expect((await send(admin.token, "PUT", `/-/org/${org}/user`, { user: admin.name, role: "owner" })).status).toBe(
			403,
		);
		expect((await send(admin.token, "PUT", `/-/org/${org}/team`, { name: "web" })).status).toBe(201);
		expect((await send(admin.token, "PUT", `/-/team/${org}/web/user`, { user: dev.name })).status).toBe(201);
		expect((await send(admin.token, "DELETE", `/-/org/${org}/user`, { user: dev.name })).status).toBe(204);

		const leave = await send(owner.token, "DELETE", `/-/org/${org}/user`, { user: owner.name });
		expect(leave.status).toBe(409);
		expect(await leave.json()).toMatchObject({ code: "conflict" });
		expect((await send(owner.token, "PUT", `/-/org/${org}/user`, { user: owner.name, role: "admin" })).status).toBe(
			409,
		);
		// With a second owner, the first may leave.
		expect((await send(owner.token, "PUT", `/-/org/${org}/user`, { user: admin.name, role: "owner" })).status).toBe(
			200,
		);
		expect((await send(owner.token, "DELETE", `/-/org/${org}/user`, { user: owner.name })).status).toBe(204);
		expect(await (await call(`/-/org/${org}/user`, { token: admin.token })).json()).toEqual({ [admin.name]: "owner" });
	});

	it("teams are listed as npm team ls shows them; a team takes members of its org only (#20)", async () => {
		const { org, owner, members } = await orgWith("developer");
		const [dev] = members as [User];
		const outsider = await userWithToken([]);
		expect(
			(await send(owner.token, "PUT", `/-/org/${org}/team`, { name: "web", description: "the web team" })).status,
		).toBe(201);
		expect((await send(owner.token, "PUT", `/-/org/${org}/team`, { name: "web" })).status).toBe(409);
		expect((await send(owner.token, "PUT", `/-/org/${org}/team`, { name: "Not A Name" })).status).toBe(400);
		expect((await send(owner.token, "PUT", `/-/team/${org}/web/user`, { user: outsider.name })).status).toBe(404);
		expect((await send(owner.token, "PUT", `/-/team/${org}/web/user`, { user: dev.name })).status).toBe(201);
		expect((await send(owner.token, "PUT", `/-/team/${org}/nope/user`, { user: dev.name })).status).toBe(404);
		expect(await (await call(`/-/org/${org}/team?format=cli`, { token: dev.token })).json()).toEqual([`${org}:web`]);
		expect(await (await call(`/-/team/${org}/web/user?format=cli`, { token: dev.token })).json()).toEqual([dev.name]);
		expect((await call(`/-/team/${org}/web/user`, { token: outsider.token })).status).toBe(404);
	});
});

describe("orgs: what members may do (#20)", () => {
	it("a user may do the union of their own grants and their teams' grants; developers publish only what a team grants", async () => {
		const { org, scope, owner, members } = await orgWith("developer");
		const [dev] = members as [User];
		const other = `@${uniqueName("own").replaceAll("-", "")}`;
		// dev's own grant, made by the registry's admin, outside the org.
		expect(
			(await send(ADMIN, "POST", `/-/admin/users/${dev.name}/grants`, { scope: other, permissions: ALL })).status,
		).toBe(200);
		await send(owner.token, "PUT", `/-/org/${org}/team`, { name: "web" });
		await send(owner.token, "PUT", `/-/team/${org}/web/user`, { user: dev.name });

		// Before any team grant: a member reads, but does not publish.
		expect((await publish(`${scope}/api`, "1.0.0", owner.token)).status).toBe(201);
		expect((await call(`/${scope}/api`, { token: dev.token })).status).toBe(200);
		expect((await publish(`${scope}/ui`, "1.0.0", dev.token)).status).toBe(403);

		const grant = await send(owner.token, "PUT", `/-/team/${org}/web/package`, {
			package: `${scope}/ui`,
			permissions: "read-write",
		});
		expect(grant.status).toBe(201);
		expect((await publish(`${scope}/ui`, "1.0.0", dev.token)).status).toBe(201);
		expect((await publish(`${other}/own`, "1.0.0", dev.token)).status).toBe(201);
		const record = await tokenRecord(dev.token);
		expect(record?.grants).toEqual(
			expect.arrayContaining([
				{ scope: other, permissions: ALL },
				{ scope, permissions: ["read"] },
				{ package: `${scope}/ui`, permissions: ALL },
			]),
		);
		// A grant outside the org's scope is refused.
		const outside = await send(owner.token, "PUT", `/-/team/${org}/web/package`, {
			package: `${other}/own`,
			permissions: "read-write",
		});
		expect(outside.status).toBe(422);

		// npm access list collaborators names them by their role and their teams.
		const collaborators = await call(`/-/package/${scope}/ui/collaborators`, { token: dev.token });
		expect(await collaborators.json()).toEqual({ [owner.name]: "read-write", [dev.name]: "read-write" });
		const api = await call(`/-/package/${scope}/api/collaborators`, { token: dev.token });
		expect(await api.json()).toEqual({ [owner.name]: "read-write", [dev.name]: "read-only" });

		await runPackageAlarm(`${scope}/ui`);
		await runPackageAlarm(`${scope}/api`);
		await runPackageAlarm(`${other}/own`);
		expect(await (await call(`/-/team/${org}/web/package`, { token: dev.token })).json()).toEqual({
			[`${scope}/ui`]: "read-write",
		});
		// npm access list packages {user}: their own grants, their role's and their teams'.
		expect(await (await call(`/-/user/${dev.name}/package`, { token: dev.token })).json()).toEqual({
			[`${other}/own`]: "read-write",
			[`${scope}/api`]: "read-only",
			[`${scope}/ui`]: "read-write",
		});
	});

	it("restricted packages of an org are invisible (404) outside it, and to members when the org says so (#20)", async () => {
		const { org, scope, owner, members } = await orgWith("developer");
		const [dev] = members as [User];
		const stranger = await userWithToken([]);
		expect((await publish(`${scope}/secret`, "1.0.0", owner.token)).status).toBe(201);
		expect((await call(`/${scope}/secret`)).status).toBe(404);
		expect((await call(`/${scope}/secret`, { token: stranger.token })).status).toBe(404);
		expect((await call(`/${scope}/secret`, { token: dev.token })).status).toBe(200);

		expect((await send(dev.token, "PATCH", `/-/org/${org}`, { membersRead: false })).status).toBe(403);
		expect((await send(owner.token, "PATCH", `/-/org/${org}`, { membersRead: false })).status).toBe(200);
		expect((await call(`/${scope}/secret`, { token: dev.token })).status).toBe(404);
		await send(owner.token, "PUT", `/-/org/${org}/team`, { name: "readers" });
		await send(owner.token, "PUT", `/-/team/${org}/readers/user`, { user: dev.name });
		await send(owner.token, "PUT", `/-/team/${org}/readers/package`, { scope, permissions: "read-only" });
		expect((await call(`/${scope}/secret`, { token: dev.token })).status).toBe(200);
	});

	it("team removal, grant revocation, team destruction and org removal reach an existing token's TokenDO (#20)", async () => {
		const { org, scope, owner, members } = await orgWith("developer");
		const [dev] = members as [User];
		const grants = async () => (await tokenRecord(dev.token))?.grants ?? [];
		const teamGrant = { package: `${scope}/ui`, permissions: ALL };
		const team = async () => {
			await send(owner.token, "PUT", `/-/org/${org}/team`, { name: "web" });
			await send(owner.token, "PUT", `/-/team/${org}/web/user`, { user: dev.name });
			await send(owner.token, "PUT", `/-/team/${org}/web/package`, {
				package: `${scope}/ui`,
				permissions: "read-write",
			});
			expect(await grants()).toContainEqual(teamGrant);
		};

		await team();
		expect((await send(owner.token, "DELETE", `/-/team/${org}/web/user`, { user: dev.name })).status).toBe(204);
		expect(await grants()).not.toContainEqual(teamGrant);

		await send(owner.token, "PUT", `/-/team/${org}/web/user`, { user: dev.name });
		expect(await grants()).toContainEqual(teamGrant);
		expect((await send(owner.token, "DELETE", `/-/team/${org}/web/package`, { package: `${scope}/ui` })).status).toBe(
			204,
		);
		expect(await grants()).not.toContainEqual(teamGrant);
		expect((await send(owner.token, "DELETE", `/-/team/${org}/web/package`, { package: `${scope}/ui` })).status).toBe(
			404,
		);

		await send(owner.token, "PUT", `/-/team/${org}/web/package`, { package: `${scope}/ui`, permissions: "read-write" });
		expect(await grants()).toContainEqual(teamGrant);
		expect((await send(owner.token, "DELETE", `/-/team/${org}/web`)).status).toBe(204);
		expect(await grants()).not.toContainEqual(teamGrant);

		await team();
		expect((await send(owner.token, "DELETE", `/-/org/${org}/user`, { user: dev.name })).status).toBe(204);
		expect(await grants()).toEqual([]);
		// And the request path agrees at once.
		expect((await publish(`${scope}/ui`, "1.0.0", dev.token)).status).toBe(403);
	});

	it("every membership, team and grant change is an audit row (#20)", async () => {
		const { org, scope, owner, members } = await orgWith("developer");
		const [dev] = members as [User];
		await send(owner.token, "PUT", `/-/org/${org}/team`, { name: "web" });
		await send(owner.token, "PUT", `/-/team/${org}/web/user`, { user: dev.name });
		await send(owner.token, "PUT", `/-/team/${org}/web/package`, { package: `${scope}/ui`, permissions: "read-only" });
		await send(owner.token, "DELETE", `/-/team/${org}/web/package`, { package: `${scope}/ui` });
		await send(owner.token, "DELETE", `/-/team/${org}/web/user`, { user: dev.name });
		await send(owner.token, "DELETE", `/-/team/${org}/web`);
		await send(owner.token, "DELETE", `/-/org/${org}/user`, { user: dev.name });
		const res = await call(`/-/admin/audit?limit=100`, { token: ADMIN });
		const { entries } = (await res.json()) as { entries: { action: string; target: string | null }[] };
		const actions = entries
			.filter((e) => e.target === scope)
			.map((e) => e.action)
			.sort();
		expect(actions).toEqual(
			[
				"org.member.add",
				"org.member.add",
				"org.member.remove",
				"team.create",
				"team.destroy",
				"team.grant",
				"team.member.add",
				"team.member.remove",
				"team.revoke",
			].sort(),
		);
	});
});

describe("orgs: second factor and limited tokens (#20)", () => {
	it("an owner with TOTP confirms org changes with a one-time code; read-only tokens change nothing", async () => {
		const { org, owner, members } = await orgWith("developer");
		const [dev] = members as [User];
		const enabled = await send(ADMIN, "POST", `/-/admin/users/${owner.name}/totp`);
		const { otpauth } = (await enabled.json()) as { otpauth: string };
		const totp = OTPAuth.URI.parse(otpauth) as OTPAuth.TOTP;
		const create = (otp?: string) =>
			call(`/-/org/${org}/team`, {
				method: "PUT",
				token: owner.token,
				body: json({ name: "web" }),
				headers: otp ? { "npm-otp": otp } : {},
			});
		const prompted = await create();
		expect(prompted.status).toBe(401);
		expect(prompted.headers.get("www-authenticate")).toBe("OTP");
		expect((await create(totp.generate())).status).toBe(201);
		// Reading needs no code.
		expect((await call(`/-/org/${org}/team`, { token: owner.token })).status).toBe(200);

		const readonly = await send(dev.token, "POST", "/-/npm/v1/tokens", {
			password: dev.password,
			readonly: true,
		});
		expect(readonly.status).toBe(201);
		const { token } = (await readonly.json()) as { token: string };
		expect((await send(token, "DELETE", `/-/org/${org}/user`, { user: dev.name })).status).toBe(403);
		expect((await call(`/-/org/${org}/user`, { token })).status).toBe(200);
	});
});

describe("orgs: changes that touch many tokens (#20)", () => {
	it("pushes at most a batch of token records per drain and asks for the next drain at once (1,000 subrequests)", async () => {
		expect(PUSH_BATCH).toBeLessThanOrEqual(500);
		const { org, scope, owner, members } = await orgWith("developer");
		const [dev] = members as [User];
		const store = env.AUTH.get(env.AUTH.idFromName("auth"));
		await send(owner.token, "PUT", `/-/org/${org}/team`, { name: "web" });
		await send(owner.token, "PUT", `/-/team/${org}/web/package`, { scope, permissions: "read-write" });
		const hashes = Array.from({ length: 5 }, () => randomHex(32));
		// Five more tokens of the developer's, queued as a change would queue them, drained in batches of two.
		const drains = await runInDurableObject(store, async (_instance, state) => {
			const sql = state.storage.sql;
			const now = new Date().toISOString();
			for (const hash of hashes) {
				const id = crypto.randomUUID();
				sql.exec(
					`INSERT INTO tokens (id, hash, prefix, kind, name, user_name, created_at, origin) VALUES (?, ?, ?, 'developer', 'ci', ?, ?, 'npm')`,
					id,
					hash,
					`dev_${hash.slice(0, 8)}`,
					dev.name,
					now,
				);
			}
			sql.exec(`INSERT INTO team_members (org, team, user_name) VALUES (?, 'web', ?)`, org, dev.name);
			const ids = sql
				.exec<{ id: string; hash: string }>(`SELECT id, hash FROM tokens WHERE user_name = ?`, dev.name)
				.toArray();
			const pushes = new TokenPushes(
				sql,
				env,
				(id, hash) =>
					(_instance as unknown as { recordFor(id: string, hash: string): TokenRecord | null }).recordFor(id, hash),
				2,
			);
			for (const { id, hash } of ids) pushes.queue(hash, id, 100);
			const answers: (number | null)[] = [];
			for (let i = 0; i < 3; i++) answers.push(await pushes.drain());
			return { answers, left: sql.exec<{ n: number }>(`SELECT count(*) AS n FROM token_pushes`).one().n };
		});
		// Six tokens (the login token and five): two, two, then the last two and an empty queue.
		expect(drains).toEqual({ answers: [0, 0, null], left: 0 });
		const record: Result<TokenRecord> = await env.TOKENS.get(env.TOKENS.idFromName(hashes[4] as string)).get();
		expect(record.ok && record.value.grants).toContainEqual({ scope, permissions: ALL });
	});
});

describe("orgs: client set-up (#20)", () => {
	it("answers .npmrc, .yarnrc.yml and bunfig.toml for the org's scope to members only", async () => {
		const { org, owner } = await orgWith();
		const stranger = await userWithToken([]);
		const res = await call(`/-/org/${org}/setup`, { token: owner.token });
		expect(res.status).toBe(200);
		const setup = (await res.json()) as Record<string, string>;
		expect(setup.npmrc).toBe(`@${org}:registry=http://registry.test/\n//registry.test/:_authToken=\${NPM_TOKEN}\n`);
		expect(setup.yarnrc).toContain(`npmScopes:\n  ${org}:\n    npmRegistryServer: "http://registry.test/"`);
		expect(setup.bunfig).toContain(`${org} = { url = "http://registry.test/", token = "$NPM_TOKEN" }`);
		expect((await call(`/-/org/${org}/setup`, { token: stranger.token })).status).toBe(404);
	});
});
