import * as OTPAuth from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { npmProject, ok, packageJson, RegistryServer, run } from "./harness";

// Access control with the real npm CLI: private installs, npm access, npm owner, npm token and
// npm publish --otp.

let server: RegistryServer;

type User = { name: string; password: string; token: string };

async function user(name: string, grants: unknown[]): Promise<User> {
	const password = `${name}-password-123`;
	await server.admin("POST", "/-/admin/users", { name, password, email: `${name}@example.com`, grants });
	const res = await fetch(`${server.url}/-/user/org.couchdb.user:${name}`, {
		method: "PUT",
		headers: { "content-type": "application/json" },
		body: JSON.stringify({ name, password }),
	});
	const { token } = (await res.json()) as { token: string };
	return { name, password, token };
}

async function customerKey(grants: unknown[]): Promise<string> {
	return (await server.admin<{ token: string }>("POST", "/-/admin/tokens", { kind: "customer", name: "shop", grants }))
		.token;
}

function publishDir(token: string, name: string, version: string): string {
	return npmProject(server, token, {
		"package.json": packageJson({ name, version, main: "index.js" }),
		"index.js": `module.exports = ${JSON.stringify(version)};\n`,
	});
}

const ALL = ["read", "upload", "publish"];

beforeAll(async () => {
	server = await RegistryServer.start();
});

afterAll(async () => {
	await server?.stop();
});

describe("access control with npm", () => {
	it("installs a restricted package with a granted token and fails without a grant", async () => {
		const alice = await user("alice", [{ scope: "@priv", permissions: ALL }]);
		await ok("npm", ["publish"], { cwd: publishDir(alice.token, "@priv/secret", "1.0.0") });
		const app = { name: "app", version: "1.0.0", dependencies: { "@priv/secret": "^1.0.0" } };

		const granted = npmProject(server, await customerKey([{ package: "@priv/secret", permissions: ["read"] }]), {
			"package.json": packageJson(app),
		});
		await ok("npm", ["install"], { cwd: granted });
		expect((await ok("node", ["-p", "require('@priv/secret')"], { cwd: granted })).stdout.trim()).toBe("1.0.0");

		const ungranted = npmProject(server, await customerKey([{ package: "@priv/other", permissions: ["read"] }]), {
			"package.json": packageJson(app),
		});
		const refused = await run("npm", ["install"], { cwd: ungranted });
		expect(refused.code).not.toBe(0);
		expect(refused.output).toMatch(/E404/);
		// a customer key cannot publish, even where it may read
		const customerPublish = await run("npm", ["publish"], {
			cwd: publishDir(await customerKey([{ scope: "@priv", permissions: ["read"] }]), "@priv/secret", "1.0.1"),
		});
		expect(customerPublish.output).toMatch(/E403/);
	});

	it("gets and sets status and lists collaborators and packages with npm access", async () => {
		const carol = await user("carol", [{ scope: "@team", permissions: ALL }]);
		await user("dave", [{ package: "@team/lib", permissions: ["read"] }]);
		const cwd = publishDir(carol.token, "@team/lib", "1.0.0");
		await ok("npm", ["publish"], { cwd });
		expect((await ok("npm", ["access", "get", "status", "@team/lib"], { cwd })).stdout.trim()).toBe(
			"@team/lib: private",
		);
		const set = await ok("npm", ["access", "set", "status=public", "@team/lib"], { cwd });
		expect(set.stdout.trim()).toBe("@team/lib: public");
		expect((await fetch(`${server.url}/@team%2flib`)).status).toBe(200);
		const collaborators = await ok("npm", ["access", "list", "collaborators", "@team/lib"], { cwd });
		expect(collaborators.stdout.trim().split("\n")).toEqual(["carol: read-write", "dave: read-only"]);
		const packages = await ok("npm", ["access", "list", "packages"], { cwd });
		expect(packages.stdout.trim()).toBe("@team/lib: read-write");
	});

	it("lists, adds and removes owners with npm owner", async () => {
		const erin = await user("erin", [{ package: "owned-pkg", permissions: ALL }]);
		const frank = await user("frank", []);
		const cwd = publishDir(erin.token, "owned-pkg", "1.0.0");
		await ok("npm", ["publish", "--access", "public"], { cwd });
		expect((await ok("npm", ["owner", "ls", "owned-pkg"], { cwd })).stdout.trim()).toBe("erin <erin@example.com>");
		expect((await ok("npm", ["owner", "add", "frank", "owned-pkg"], { cwd })).stdout.trim()).toBe(
			"+ frank (owned-pkg)",
		);
		expect((await ok("npm", ["owner", "ls", "owned-pkg"], { cwd })).stdout.trim().split("\n")).toEqual([
			"erin <erin@example.com>",
			"frank <frank@example.com>",
		]);
		// frank may publish now
		await ok("npm", ["publish"], { cwd: publishDir(frank.token, "owned-pkg", "1.0.1") });
		expect((await ok("npm", ["owner", "rm", "frank", "owned-pkg"], { cwd })).stdout.trim()).toBe("- frank (owned-pkg)");
		const denied = await run("npm", ["publish"], { cwd: publishDir(frank.token, "owned-pkg", "1.0.2") });
		expect(denied.output).toMatch(/E403/);
	});

	it("lists, creates and revokes tokens with npm token", async () => {
		const gina = await user("gina", [{ package: "gina-pkg", permissions: ALL }]);
		const cwd = npmProject(server, gina.token, { "package.json": packageJson({ name: "x", version: "1.0.0" }) });
		const created = await ok(
			"npm",
			["token", "create", `--password=${gina.password}`, "--packages-and-scopes-permission=read-only", "--json"],
			{ cwd },
		);
		const { token } = JSON.parse(created.stdout) as { token: string };
		expect(token).toMatch(/^dev_[0-9a-f]{64}$/);
		const whoami = await fetch(`${server.url}/-/whoami`, { headers: { authorization: `Bearer ${token}` } });
		expect(await whoami.json()).toEqual({ username: "gina" });

		// npm redacts the full key in its output and shows a short unique id to revoke by.
		const listed = JSON.parse((await ok("npm", ["token", "list", "--json"], { cwd })).stdout) as {
			id: string;
			token: string;
			readonly: boolean;
		}[];
		expect(listed).toHaveLength(2);
		const made = listed.find((t) => token.startsWith(t.token));
		expect(made?.readonly).toBe(true);
		await ok("npm", ["token", "revoke", made?.id ?? ""], { cwd });
		const after = await fetch(`${server.url}/-/whoami`, { headers: { authorization: `Bearer ${token}` } });
		expect(after.status).toBe(401);
		expect(JSON.parse((await ok("npm", ["token", "list", "--json"], { cwd })).stdout)).toHaveLength(1);
	});

	it("publishes with npm publish --otp for a user with TOTP", async () => {
		const hank = await user("hank", [{ package: "otp-pkg", permissions: ALL }]);
		const { otpauth } = await server.admin<{ otpauth: string }>("POST", "/-/admin/users/hank/totp");
		const totp = OTPAuth.URI.parse(otpauth) as OTPAuth.TOTP;
		const cwd = publishDir(hank.token, "otp-pkg", "1.0.0");
		const without = await run("npm", ["publish", "--access", "public"], { cwd });
		expect(without.code).not.toBe(0);
		expect(without.output).toMatch(/EOTP|one-time password/);
		const wrong = await run("npm", ["publish", "--access", "public", "--otp=000000"], { cwd });
		expect(wrong.code).not.toBe(0);
		await ok("npm", ["publish", "--access", "public", `--otp=${totp.generate()}`], { cwd });
		expect((await ok("npm", ["view", "otp-pkg", "version"], { cwd })).stdout.trim()).toBe("1.0.0");
	});
});
