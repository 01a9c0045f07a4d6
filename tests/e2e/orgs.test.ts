import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npmProject, ok, packageJson, RegistryServer, run } from "./harness";

// Organisations with the real npm CLI (#20): npm org set/ls/rm, npm team create/add/ls/rm/destroy,
// npm access grant/revoke/list packages, a team member publishing with their own npm login token,
// and each removal taking effect on that token at once.

let server: RegistryServer;

beforeAll(async () => {
	server = await RegistryServer.start();
});

afterAll(async () => {
	await server?.stop();
});

async function createUser(name: string): Promise<string> {
	const password = `${name}-password-123`;
	await server.admin("POST", "/-/admin/users", { name, password, email: `${name}@example.com`, grants: [] });
	return password;
}

/** A project whose .npmrc gets the user's token from npm login, as a new team member would do it. */
async function loggedIn(name: string, password: string, version: string): Promise<string> {
	const cwd = npmProject(server, null, {
		"package.json": packageJson({ name: "@acme/ui", version, main: "index.js" }),
		"index.js": `module.exports = ${JSON.stringify(version)};\n`,
	});
	await ok("npm", ["login", `--userconfig=${join(cwd, ".npmrc")}`], {
		cwd,
		answers: [
			[/Username:/, name],
			[/Password:/, password],
		],
	});
	return cwd;
}

describe("organisations with npm (#20)", () => {
	it("sets up an org, a team and a grant with npm org, npm team and npm access; removals take effect", async () => {
		const alicePassword = await createUser("alice");
		const bobPassword = await createUser("bob");
		const registryAdmin = npmProject(server, server.adminToken, { "package.json": packageJson({ name: "x" }) });

		// The registry's admin makes the org by naming its first owner.
		const made = await ok("npm", ["org", "set", "acme", "alice", "owner"], { cwd: registryAdmin });
		expect(made.stdout).toContain("Added alice as owner to acme. You now have 1 member in this org.");

		const alice = await loggedIn("alice", alicePassword, "1.0.0");
		const added = await ok("npm", ["org", "set", "acme", "bob", "developer"], { cwd: alice });
		expect(added.stdout).toContain("Added bob as developer to acme. You now have 2 members in this org.");
		const roster = JSON.parse((await ok("npm", ["org", "ls", "acme", "--json"], { cwd: alice })).stdout) as unknown;
		expect(roster).toEqual({ alice: "owner", bob: "developer" });

		expect((await ok("npm", ["team", "create", "@acme:web"], { cwd: alice })).stdout).toContain("+@acme:web");
		expect((await ok("npm", ["team", "add", "@acme:web", "bob"], { cwd: alice })).stdout).toContain(
			"bob added to @acme:web",
		);
		expect((await ok("npm", ["team", "ls", "@acme"], { cwd: alice })).stdout).toMatch(/@acme has 1 team:\s+@acme:web/);
		expect((await ok("npm", ["team", "ls", "@acme:web"], { cwd: alice })).stdout).toMatch(
			/@acme:web has 1 user:\s+bob/,
		);
		await ok("npm", ["access", "grant", "read-write", "@acme:web", "@acme/ui"], { cwd: alice });
		const listed = await ok("npm", ["access", "list", "packages", "@acme:web", "--json"], { cwd: alice });
		expect(JSON.parse(listed.stdout)).toEqual({ "@acme/ui": "read-write" });

		// A developer cannot create teams.
		const bob = await loggedIn("bob", bobPassword, "1.0.0");
		const refusedTeam = await run("npm", ["team", "create", "@acme:mine"], { cwd: bob });
		expect(refusedTeam.code).not.toBe(0);
		expect(refusedTeam.output).toMatch(/E403/);

		// The team member publishes with their own npm login token.
		await ok("npm", ["publish"], { cwd: bob });
		expect((await ok("npm", ["view", "@acme/ui", "version"], { cwd: alice })).stdout.trim()).toBe("1.0.0");

		// Out of the team: bob still reads (every member does) but publishes no more.
		expect((await ok("npm", ["team", "rm", "@acme:web", "bob"], { cwd: alice })).stdout).toContain(
			"bob removed from @acme:web",
		);
		const bobNext = await loggedIn("bob", bobPassword, "1.0.1");
		const afterRemoval = await run("npm", ["publish"], { cwd: bobNext });
		expect(afterRemoval.code).not.toBe(0);
		expect(afterRemoval.output).toMatch(/E403/);
		expect((await ok("npm", ["view", "@acme/ui", "version"], { cwd: bob })).stdout.trim()).toBe("1.0.0");

		// Back in the team, then the grant revoked: the same token loses it again.
		await ok("npm", ["team", "add", "@acme:web", "bob"], { cwd: alice });
		await ok("npm", ["publish"], { cwd: bobNext });
		await ok("npm", ["access", "revoke", "@acme:web", "@acme/ui"], { cwd: alice });
		const listedAfter = await ok("npm", ["access", "list", "packages", "@acme:web", "--json"], { cwd: alice });
		expect(JSON.parse(listedAfter.stdout || "{}")).toEqual({});
		expect((await ok("npm", ["team", "destroy", "@acme:web"], { cwd: alice })).stdout).toContain("-@acme:web");
		expect((await ok("npm", ["team", "ls", "@acme"], { cwd: alice })).stdout).toContain("@acme has 0 teams");

		// Out of the org: the package no longer exists for bob's token.
		const removed = await ok("npm", ["org", "rm", "acme", "bob"], { cwd: alice });
		expect(removed.stdout).toContain("Successfully removed bob from acme. You now have 1 member in this org.");
		const gone = await run("npm", ["view", "@acme/ui", "version"], { cwd: bob });
		expect(gone.code).not.toBe(0);
		expect(gone.output).toMatch(/E404/);

		// The last owner cannot leave.
		const leave = await run("npm", ["org", "rm", "acme", "alice"], { cwd: alice });
		expect(leave.code).not.toBe(0);
		expect(leave.output).toMatch(/E409/);
	});
});
