import * as OTPAuth from "otpauth";
import { describe, expect, it } from "vitest";
import { ADMIN, ALL, call, createToken, publish, publishBody, uniqueName, userWithToken } from "./helpers/registry";

// Two-factor publishing with TOTP (RFC 6238): codes are checked on writes of users who enabled
// it, and on writes to scopes or packages that require it; a code works once.

const json = (body: unknown) => JSON.stringify(body);

async function enableTotp(user: string): Promise<OTPAuth.TOTP> {
	const res = await call(`/-/admin/users/${user}/totp`, { method: "POST", token: ADMIN });
	expect(res.status).toBe(201);
	const { otpauth } = (await res.json()) as { otpauth: string };
	expect(otpauth).toMatch(/^otpauth:\/\/totp\/registry:.*secret=[A-Z2-7]+/);
	return OTPAuth.URI.parse(otpauth) as OTPAuth.TOTP;
}

/** The code of the time step `offset` steps from now (the server accepts one step either way). */
const code = (totp: OTPAuth.TOTP, offset = 0) => totp.generate({ timestamp: Date.now() + offset * 30_000 });

async function publishWithOtp(name: string, version: string, token: string, otp?: string): Promise<Response> {
	const { body } = await publishBody(name, version);
	return call(`/${name.replace("/", "%2f")}`, {
		method: "PUT",
		token,
		body: json(body),
		headers: otp === undefined ? {} : { "npm-otp": otp },
	});
}

describe("two-factor publishing", () => {
	it("asks users with TOTP for a code on writes: missing, wrong, valid, replayed", async () => {
		const pkg = uniqueName("tfa");
		const user = await userWithToken([{ package: pkg, permissions: ALL }]);
		const totp = await enableTotp(user.name);

		const missing = await publishWithOtp(pkg, "1.0.0", user.token);
		expect(missing.status).toBe(401);
		expect(missing.headers.get("www-authenticate")).toBe("OTP");
		expect(((await missing.json()) as { error: string }).error).toMatch(/one-time password/);
		const wrong = await publishWithOtp(pkg, "1.0.0", user.token, "000000");
		expect(wrong.status).toBe(401);
		expect(wrong.headers.get("www-authenticate")).toBe("OTP");

		const valid = code(totp);
		expect((await publishWithOtp(pkg, "1.0.0", user.token, valid)).status).toBe(201);
		const replayed = await publishWithOtp(pkg, "1.0.1", user.token, valid);
		expect(replayed.status).toBe(401);
		expect(((await replayed.json()) as { error: string }).error).toMatch(/already used/);
		expect((await publishWithOtp(pkg, "1.0.1", user.token, code(totp, 1))).status).toBe(201);
		// reads never need a code
		expect((await call(`/${pkg}`, { token: user.token })).status).toBe(200);
	});

	it("asks for a code at npm login once TOTP is on", async () => {
		const user = await userWithToken([]);
		const totp = await enableTotp(user.name);
		const login = (otp?: string) =>
			call(`/-/user/org.couchdb.user:${user.name}`, {
				method: "PUT",
				body: json({ name: user.name, password: user.password }),
				headers: otp === undefined ? {} : { "npm-otp": otp },
			});
		const first = await login();
		expect(first.status).toBe(401);
		expect(first.headers.get("www-authenticate")).toBe("OTP");
		expect((await login("123456")).status).toBe(401);
		expect((await login(code(totp))).status).toBe(201);
		const users = (await (await call(`/-/admin/users/${user.name}`, { token: ADMIN })).json()) as object;
		expect(users).toMatchObject({ twoFactor: true });
		expect(JSON.stringify(users)).not.toMatch(/secret|otpauth/);
	});

	it("requires two-factor for every write to a scope marked requireTwoFactor", async () => {
		const scope = `@${uniqueName("sec").replaceAll("-", "")}`;
		const policy = await call(`/-/admin/scopes/${scope}`, {
			method: "PUT",
			token: ADMIN,
			body: json({ requireTwoFactor: true }),
		});
		expect(await policy.json()).toEqual({ scope, requireTwoFactor: true, prereleaseRetentionDays: null });
		const bot = await createToken([{ scope, permissions: ALL }]);
		const refused = await publishWithOtp(`${scope}/a`, "1.0.0", bot.token);
		expect(refused.status).toBe(403);
		expect(((await refused.json()) as { error: string }).error).toMatch(/two-factor/);
		const plain = await userWithToken([{ scope, permissions: ALL }]);
		expect((await publishWithOtp(`${scope}/a`, "1.0.0", plain.token)).status).toBe(403);
		const secured = await userWithToken([{ scope, permissions: ALL }]);
		const totp = await enableTotp(secured.name);
		expect((await publishWithOtp(`${scope}/a`, "1.0.0", secured.token)).status).toBe(401);
		expect((await publishWithOtp(`${scope}/a`, "1.0.0", secured.token, code(totp))).status).toBe(201);
		// admins are not asked; other scopes are not affected
		expect((await publishWithOtp(`${scope}/b`, "1.0.0", ADMIN)).status).toBe(201);
		await call(`/-/admin/scopes/${scope}`, { method: "PUT", token: ADMIN, body: json({ requireTwoFactor: false }) });
		expect((await publishWithOtp(`${scope}/c`, "1.0.0", bot.token)).status).toBe(201);
	});

	it("requires two-factor on a package set to mfa=publish with npm access", async () => {
		const pkg = uniqueName("mfa");
		const owner = await userWithToken([{ package: pkg, permissions: ALL }]);
		await publish(pkg, "1.0.0", owner.token);
		const set = await call(`/-/package/${pkg}/access`, {
			method: "POST",
			token: owner.token,
			body: json({ publish_requires_tfa: true, automation_token_overrides_tfa: false }),
		});
		expect(set.status).toBe(200);
		expect((await publishWithOtp(pkg, "1.0.1", owner.token)).status).toBe(403);
		const totp = await enableTotp(owner.name);
		expect((await publishWithOtp(pkg, "1.0.1", owner.token)).status).toBe(401);
		expect((await publishWithOtp(pkg, "1.0.1", owner.token, code(totp))).status).toBe(201);
	});

	it("lets a token its user created with a code (bypass_2fa) publish without one", async () => {
		const pkg = uniqueName("ci");
		const user = await userWithToken([{ package: pkg, permissions: ALL }]);
		const totp = await enableTotp(user.name);
		const create = (otp?: string) =>
			call("/-/npm/v1/tokens", {
				method: "POST",
				token: user.token,
				body: json({ password: user.password, bypass_2fa: true }),
				headers: otp === undefined ? {} : { "npm-otp": otp },
			});
		expect((await create()).status).toBe(401);
		const created = await create(code(totp));
		expect(created.status).toBe(201);
		const { token } = (await created.json()) as { token: string };
		expect((await publishWithOtp(pkg, "1.0.0", token)).status).toBe(201);
	});
});
