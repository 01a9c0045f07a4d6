import { env, runInDurableObject } from "cloudflare:test";
import * as OTPAuth from "otpauth";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../schema/hashing";
import { signJwt } from "./helpers/jwt";
import { packageStub, runPackageAlarm } from "./helpers/package-object";
import {
	ADMIN,
	BASE,
	call,
	publishBody,
	publisherFor,
	readPackument,
	uniqueName,
	userWithToken,
} from "./helpers/registry";

// Trusted publishing (#19): trust configurations, the exchange of a CI's OpenID Connect ID token
// for a short-lived token of one package, and what that token may do. The issuer is the test
// network's (tests/e2e/oidc-issuer.ts, reached at the loopback URLs OIDC_ISSUERS names in
// vitest.config.ts); its keys are generated here.

const GITHUB = "http://127.0.0.1:4980/github";
const GITLAB = "http://127.0.0.1:4980/gitlab";
const AUDIENCE = "npm:registry.test";

type Key = { key: CryptoKey; kid: string };

/** A fresh RSA key; published by the issuer unless `publish` is false. */
async function issuerKey(issuer = GITHUB, publish = true): Promise<Key> {
	const pair = (await crypto.subtle.generateKey(
		{ name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
		true,
		["sign", "verify"],
	)) as CryptoKeyPair;
	const kid = crypto.randomUUID();
	if (publish) {
		const jwk = { ...((await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey), kid };
		const res = await fetch(`${issuer}/-/keys`, { method: "POST", body: JSON.stringify(jwk) });
		expect(res.status).toBe(204);
	}
	return { key: pair.privateKey, kid };
}

const keyOnce = issuerKey();

function githubClaims(repository: string, overrides: Record<string, unknown> = {}) {
	const now = Math.floor(Date.now() / 1000);
	return {
		iss: GITHUB,
		aud: AUDIENCE,
		iat: now,
		nbf: now,
		exp: now + 300,
		jti: crypto.randomUUID(),
		sub: `repo:${repository}:ref:refs/heads/main`,
		repository,
		workflow_ref: `${repository}/.github/workflows/release.yml@refs/heads/main`,
		ref: "refs/heads/main",
		sha: "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d",
		run_id: "1234567",
		repository_visibility: "private",
		...overrides,
	};
}

async function idToken(claims: Record<string, unknown>, key?: Key): Promise<string> {
	const signer = key ?? (await keyOnce);
	return signJwt(signer.key, signer.kid, claims);
}

function exchange(name: string, token: string) {
	return call(`/-/npm/v1/oidc/token/exchange/package/${name.replace("/", "%2f")}`, { method: "POST", token });
}

async function trust(name: string, publisher: string, config: Record<string, unknown>) {
	const res = await call(`/-/package/${name.replace("/", "%2f")}/trust`, {
		method: "POST",
		token: publisher,
		body: JSON.stringify([config]),
	});
	expect(res.status, await res.clone().text()).toBe(201);
	return ((await res.json()) as { id: string }[])[0]?.id ?? "";
}

function githubTrust(repository: string, permissions = ["createPackage"], environment?: string) {
	return {
		type: "github",
		claims: { repository, workflow_ref: { file: "release.yml" }, ...(environment ? { environment } : {}) },
		permissions,
	};
}

/** A package with a GitHub trust configuration for `acme/{name}` (the package need not exist yet). */
async function trustedPackage(permissions = ["createPackage"], environment?: string) {
	const name = uniqueName("trusted");
	const publisher = await publisherFor(name);
	const repository = `acme/${name}`;
	const configId = await trust(name, publisher, githubTrust(repository, permissions, environment));
	return { name, publisher, repository, configId };
}

async function exchanged(name: string, claims: Record<string, unknown>): Promise<string> {
	const res = await exchange(name, await idToken(claims));
	expect(res.status, await res.clone().text()).toBe(201);
	return ((await res.json()) as { token: string }).token;
}

function authStore() {
	return env.AUTH.get(env.AUTH.idFromName("auth"));
}

async function registryAudit(target: string) {
	const res = await call("/-/admin/audit?limit=1000", { token: ADMIN });
	const { entries } = (await res.json()) as {
		entries: { action: string; actor: string; target: string | null; detail: Record<string, unknown> | null }[];
	};
	return entries.filter((entry) => entry.target === target);
}

function put(name: string, token: string, body: unknown) {
	return call(`/${name.replace("/", "%2f")}`, { method: "PUT", token, body: JSON.stringify(body) });
}

describe("trust configurations (#19 trusted publishers)", () => {
	it("are added, listed and revoked by those who may publish the package, each change audited", async () => {
		const { name, publisher, repository, configId } = await trustedPackage(["createPackage", "createStagedPackage"]);
		const listed = await call(`/-/package/${name}/trust`, { token: publisher });
		expect(listed.status).toBe(200);
		expect(await listed.json()).toEqual([
			expect.objectContaining({
				id: configId,
				type: "github",
				claims: { repository, workflow_ref: { file: "release.yml" } },
				permissions: ["createPackage", "createStagedPackage"],
			}),
		]);
		const other = await publisherFor(uniqueName("other"));
		// No grant on the package: 403, the same whether it exists (#24.6).
		expect((await call(`/-/package/${name}/trust`, { token: other })).status).toBe(403);
		expect((await call(`/-/package/${name}/trust/${configId}`, { method: "DELETE", token: publisher })).status).toBe(
			204,
		);
		expect(await (await call(`/-/package/${name}/trust`, { token: publisher })).json()).toEqual([]);
		expect((await call(`/-/package/${name}/trust/${configId}`, { method: "DELETE", token: publisher })).status).toBe(
			404,
		);
		const actions = (await registryAudit(name)).map((entry) => entry.action);
		expect(actions).toEqual(expect.arrayContaining(["trust.add", "trust.revoke"]));
	});

	it("refuses a configuration npm would not send (a workflow path, no permission)", async () => {
		const name = uniqueName("trusted");
		const publisher = await publisherFor(name);
		const bad = [
			{ type: "github", claims: { repository: "acme/app", workflow_ref: { file: ".github/workflows/x.yml" } } },
			{ type: "github", claims: { repository: "acme/app", workflow_ref: { file: "x.yml" } }, permissions: [] },
			{ type: "bitbucket", claims: {} },
		];
		for (const config of bad) {
			const res = await call(`/-/package/${name}/trust`, {
				method: "POST",
				token: publisher,
				body: JSON.stringify([config]),
			});
			expect(res.status).toBe(400);
		}
	});
});

describe("the ID-token exchange (#19)", () => {
	it("answers a token of at most 15 minutes that publishes the package, recorded as the trusted publisher with the run's claims", async () => {
		const { name, repository, configId } = await trustedPackage();
		const res = await exchange(name, await idToken(githubClaims(repository)));
		expect(res.status).toBe(201);
		const { token, expiresAt } = (await res.json()) as { token: string; expiresAt: string };
		expect(token).toMatch(/^dev_/);
		expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(15 * 60_000);
		// Hashed at rest like every token: the AuthStoreDO holds its SHA-256, never the token.
		const stored = await runInDurableObject(authStore(), (_instance, state) =>
			state.storage.sql
				.exec<{ hash: string; origin: string; expires_at: string }>(
					`SELECT hash, origin, expires_at FROM tokens WHERE prefix = ?`,
					token.slice(0, 12),
				)
				.toArray(),
		);
		expect(stored).toEqual([{ hash: await sha256Hex(token), origin: "oidc", expires_at: expiresAt }]);
		const { body } = await publishBody(name, "1.0.0");
		expect((await put(name, token, body)).status).toBe(201);

		const doc = await readPackument(name);
		const npmUser = doc.versions["1.0.0"]?._npmUser as Record<string, unknown>;
		expect(npmUser).toMatchObject({
			name: "GitHub Actions",
			email: "npm-oidc-no-reply@github.com",
			trustedPublisher: {
				id: "github",
				oidcConfigId: configId,
				repository,
				workflow: "release.yml",
				ref: "refs/heads/main",
				commit: "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d",
				run: "1234567",
			},
		});
		// The CI is no maintainer of the package.
		expect(doc.maintainers.map((m) => m.name)).not.toContain("GitHub Actions");
		const audit = await call(`/-/admin/audit?package=${name}`, { token: ADMIN });
		const { entries } = (await audit.json()) as { entries: { action: string; detail: Record<string, unknown> }[] };
		const published = entries.find((entry) => entry.action === "publish");
		expect(published?.detail.trustedPublisher).toEqual({
			provider: "github",
			repository,
			workflow: "release.yml",
			ref: "refs/heads/main",
			commit: "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d",
			run: "1234567",
			environment: null,
		});
		const page = await call(`/package/${name}`, { token: ADMIN });
		const html = await page.text();
		expect(html).toContain(`published from <a href="https://github.com/${repository}"`);
		expect(html).toContain("release.yml");
		expect(html).toContain("4f1c2d3");
	});

	it("is refused, and audited as oidc.refused with why, for a token of another repository, workflow or environment", async () => {
		const { name, repository } = await trustedPackage(["createPackage"], "production");
		const cases = [
			githubClaims("acme/elsewhere", { environment: "production" }),
			githubClaims(repository, {
				environment: "production",
				workflow_ref: `${repository}/.github/workflows/other.yml@refs/heads/main`,
			}),
			githubClaims(repository, { environment: "staging" }),
			githubClaims(repository),
		];
		for (const claims of cases) {
			const res = await exchange(name, await idToken(claims));
			expect(res.status).toBe(403);
			expect(((await res.json()) as { error: string }).error).toContain("no trust configuration");
		}
		const refusals = (await registryAudit(name)).filter((entry) => entry.action === "oidc.refused");
		expect(refusals.map((entry) => entry.detail?.why)).toEqual(
			expect.arrayContaining([
				expect.stringContaining("repository is acme/elsewhere"),
				expect.stringContaining("workflow is other.yml"),
				expect.stringContaining("environment is staging"),
			]),
		);
		expect(await exchange(name, await idToken(githubClaims(repository, { environment: "production" })))).toHaveProperty(
			"status",
			201,
		);
	});

	it("refuses a token for another audience, signed with a key the issuer does not publish, or expired", async () => {
		const { name, repository } = await trustedPackage();
		const wrongAudience = await exchange(
			name,
			await idToken(githubClaims(repository, { aud: "npm:registry.npmjs.org" })),
		);
		expect(wrongAudience.status).toBe(401);
		expect(await wrongAudience.text()).toContain("npm:registry.test");
		const unknownKey = await exchange(name, await idToken(githubClaims(repository), await issuerKey(GITHUB, false)));
		expect(unknownKey.status).toBe(401);
		expect(await unknownKey.text()).toContain("does not publish");
		const now = Math.floor(Date.now() / 1000);
		const expired = await exchange(name, await idToken(githubClaims(repository, { iat: now - 900, exp: now - 600 })));
		expect(expired.status).toBe(401);
		expect(await expired.text()).toContain("expired");
		const future = await exchange(name, await idToken(githubClaims(repository, { nbf: now + 600 })));
		expect(future.status).toBe(401);
		const forged = (await idToken(githubClaims(repository))).replace(/\.[^.]+$/, ".AAAA");
		expect((await exchange(name, forged)).status).toBe(401);
		const untrusted = await exchange(name, await idToken(githubClaims(repository, { iss: "https://evil.example" })));
		expect(untrusted.status).toBe(401);
		const actions = (await registryAudit(name)).filter((entry) => entry.action === "oidc.refused");
		expect(actions.length).toBeGreaterThanOrEqual(6);
	});

	it("retires a trusted publisher's token from the token table a day after it expired", async () => {
		const { name, repository } = await trustedPackage();
		const old = await exchanged(name, githubClaims(repository));
		const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString();
		await runInDurableObject(authStore(), (_instance, state) => {
			state.storage.sql.exec(`UPDATE tokens SET expires_at = ? WHERE prefix = ?`, twoDaysAgo, old.slice(0, 12));
		});
		await exchanged(name, githubClaims(repository));
		const revoked = await runInDurableObject(authStore(), (_instance, state) =>
			state.storage.sql
				.exec<{ revoked_at: string | null }>(`SELECT revoked_at FROM tokens WHERE prefix = ?`, old.slice(0, 12))
				.one(),
		);
		expect(revoked.revoked_at).not.toBeNull();
	});

	it("exchanges an ID token once: a replay is refused", async () => {
		const { name, repository } = await trustedPackage();
		const token = await idToken(githubClaims(repository));
		expect((await exchange(name, token)).status).toBe(201);
		const replay = await exchange(name, token);
		expect(replay.status).toBe(401);
		expect(await replay.text()).toContain("already exchanged");
	});

	it("refuses a package without trust configuration", async () => {
		const name = uniqueName("untrusted");
		const res = await exchange(name, await idToken(githubClaims(`acme/${name}`)));
		expect(res.status).toBe(403);
		expect(await res.text()).toContain("no trusted publisher is configured");
	});

	it("reads the issuer's keys again when a token names a key it did not publish before (rotation)", async () => {
		const { name, repository } = await trustedPackage();
		await exchanged(name, githubClaims(repository));
		const rotated = await issuerKey(GITHUB);
		const res = await exchange(name, await idToken(githubClaims(repository), rotated));
		expect(res.status).toBe(201);
	});

	it("gives a token that only stages when the configuration allows only staged publishes", async () => {
		const { name, repository } = await trustedPackage(["createStagedPackage"]);
		const token = await exchanged(name, githubClaims(repository));
		const { body } = await publishBody(name, "1.0.0");
		const published = await put(name, token, body);
		expect(published.status).toBe(403);
		expect(await published.text()).toContain("staged publishes only");
		const staged = await call(`/-/stage/package/${name}`, { method: "POST", token, body: JSON.stringify(body) });
		expect(staged.status).toBe(201);
		expect((await staged.json()) as { stageId: string }).toHaveProperty("stageId");
	});

	it("gives a token useless on another package, on other changes of its own package and on the admin API", async () => {
		const { name, repository } = await trustedPackage();
		const token = await exchanged(name, githubClaims(repository));
		const other = uniqueName("other");
		const { body } = await publishBody(other, "1.0.0");
		const elsewhere = await put(other, token, body);
		expect(elsewhere.status).toBe(403);
		expect(await elsewhere.text()).toContain(`may only publish or stage ${name}`);
		expect((await call("/-/admin/tokens", { token })).status).toBe(403);
		const { body: own } = await publishBody(name, "1.0.0");
		expect((await put(name, token, own)).status).toBe(201);
		const tag = await call(`/-/package/${name}/dist-tags/beta`, { method: "PUT", token, body: '"1.0.0"' });
		expect(tag.status).toBe(403);
		expect(await tag.text()).toContain("may only publish or stage");
		expect((await call(`/-/package/${name}/trust`, { token })).status).toBe(403);
		expect((await call("/-/stage", { token })).status).toBe(403);
	});

	it("trusts GitLab's pipeline file and project as npm trust gitlab configures them", async () => {
		const name = uniqueName("gitlab");
		const publisher = await publisherFor(name);
		await trust(name, publisher, {
			type: "gitlab",
			claims: { project_path: "acme/group/app", ci_config_ref_uri: { file: ".gitlab-ci.yml" } },
			permissions: ["createPackage"],
		});
		const key = await issuerKey(GITLAB);
		const now = Math.floor(Date.now() / 1000);
		const claims = {
			iss: GITLAB,
			aud: AUDIENCE,
			iat: now,
			exp: now + 300,
			jti: crypto.randomUUID(),
			project_path: "acme/group/app",
			ci_config_ref_uri: "gitlab.com/acme/group/app//.gitlab-ci.yml@refs/heads/main",
			sha: "abcdef0123456789",
			pipeline_id: "42",
		};
		expect((await exchange(name, await signJwt(key.key, key.kid, claims))).status).toBe(201);
		const wrongFile = {
			...claims,
			jti: crypto.randomUUID(),
			ci_config_ref_uri: "gitlab.com/acme/group/app//other.yml@refs/heads/main",
		};
		expect((await exchange(name, await signJwt(key.key, key.kid, wrongFile))).status).toBe(403);
	});
});

async function stage(name: string, token: string, version = "1.0.0") {
	const { body, tgz } = await publishBody(name, version);
	const res = await call(`/-/stage/package/${name.replace("/", "%2f")}`, {
		method: "POST",
		token,
		body: JSON.stringify(body),
	});
	expect(res.status, await res.clone().text()).toBe(201);
	return { stageId: ((await res.json()) as { stageId: string }).stageId, tgz };
}

describe("staged publishes (#19 npm stage)", () => {
	it("keep a version invisible until it is approved, then publish it as it was staged", async () => {
		const name = uniqueName("staged");
		const publisher = await publisherFor(name);
		const { stageId, tgz } = await stage(name, publisher);
		expect(stageId).toMatch(/^[0-9a-f-]{36}$/);
		expect((await call(`/${name}`, { token: ADMIN })).status).toBe(404);
		expect((await call(`/package/${name}`, { token: ADMIN })).status).toBe(404);

		const listed = await call(`/-/stage?package=${name}`, { token: publisher });
		const { items, total } = (await listed.json()) as { items: { id: string; version: string }[]; total: number };
		expect(total).toBe(1);
		expect(items[0]).toMatchObject({
			id: stageId,
			packageName: name,
			version: "1.0.0",
			tag: "latest",
			actorType: "user",
		});
		const viewed = await call(`/-/stage/${stageId}`, { token: publisher });
		expect(await viewed.json()).toMatchObject({ id: stageId, version: "1.0.0" });
		const tarball = await call(`/-/stage/${stageId}/tarball`, { token: publisher });
		expect(new Uint8Array(await tarball.arrayBuffer())).toEqual(tgz);
		// Someone who may not publish the package does not see it.
		const stranger = await publisherFor(uniqueName("stranger"));
		expect((await call(`/-/stage/${stageId}`, { token: stranger })).status).toBe(404);
		const strangers = (await (await call("/-/stage", { token: stranger })).json()) as { items: unknown[] };
		expect(strangers.items).toEqual([]);

		const approved = await call(`/-/stage/${stageId}/approve`, { method: "POST", token: publisher });
		expect(approved.status).toBe(200);
		const doc = await readPackument(name);
		expect(doc["dist-tags"].latest).toBe("1.0.0");
		expect((await call(`/-/stage/${stageId}`, { token: publisher })).status).toBe(404);
		const audit = (await (await call(`/-/admin/audit?package=${name}`, { token: ADMIN })).json()) as {
			entries: { action: string }[];
		};
		expect(audit.entries.map((entry) => entry.action)).toEqual(expect.arrayContaining(["publish", "stage.approve"]));
	});

	it("are listed on the package page for its publishers only, who approve or reject them there", async () => {
		const name = uniqueName("staged");
		const publisher = await publisherFor(name);
		const { body } = await publishBody(name, "1.0.0", { access: "public" });
		expect((await put(name, publisher, body)).status).toBe(201);
		const { stageId: first } = await stage(name, publisher, "1.1.0");
		const { stageId: second } = await stage(name, publisher, "1.2.0");
		const page = await (await call(`/package/${name}`, { token: publisher })).text();
		expect(page).toContain(`action="/package/${name}/stage/${first}/approve"`);
		expect(page).toContain(`action="/package/${name}/stage/${second}/reject"`);
		const publicPage = await (await call(`/package/${name}`)).text();
		expect(publicPage).not.toContain("Staged versions");
		expect(publicPage).not.toContain("1.1.0");
		const form = (id: string, what: string) =>
			call(`/package/${name}/stage/${id}/${what}`, {
				method: "POST",
				token: publisher,
				redirect: "manual",
				headers: { origin: BASE, "content-type": "application/x-www-form-urlencoded" },
				body: "",
			});
		const approved = await form(first, "approve");
		expect(approved.status).toBe(303);
		expect((await form(second, "reject")).status).toBe(303);
		const doc = await readPackument(name);
		expect(Object.keys(doc.versions).sort()).toEqual(["1.0.0", "1.1.0"]);
		expect(await (await call(`/package/${name}`, { token: publisher })).text()).not.toContain("Staged versions");
	});

	it("refuses to approve a version published since it was staged", async () => {
		const name = uniqueName("staged");
		const publisher = await publisherFor(name);
		const { stageId } = await stage(name, publisher);
		const { body } = await publishBody(name, "1.0.0");
		expect((await put(name, publisher, body)).status).toBe(201);
		const approved = await call(`/-/stage/${stageId}/approve`, { method: "POST", token: publisher });
		expect(approved.status).toBe(403);
		expect(await approved.text()).toContain("previously published");
	});

	it("drops a rejected version and its bytes", async () => {
		const name = uniqueName("staged");
		const publisher = await publisherFor(name);
		const { stageId } = await stage(name, publisher);
		const keys = await runInDurableObject(packageStub(name), (instance) => instance.blobKeys());
		expect(keys).toHaveLength(2);
		expect((await call(`/-/stage/${stageId}`, { method: "DELETE", token: publisher })).status).toBe(200);
		expect((await call(`/-/stage/${stageId}`, { token: publisher })).status).toBe(404);
		for (const key of keys) expect(await env.BLOBS.head(key)).toBeNull();
	});

	it("stages without a one-time password, and asks for one to approve or reject when the user has two factors", async () => {
		const name = uniqueName("staged");
		const user = await userWithToken([{ package: name, permissions: ["read", "upload", "publish"] }]);
		const enabled = await call(`/-/admin/users/${user.name}/totp`, { method: "POST", token: ADMIN });
		const totp = OTPAuth.URI.parse(((await enabled.json()) as { otpauth: string }).otpauth) as OTPAuth.TOTP;
		const { stageId } = await stage(name, user.token);
		const approve = (otp?: string) =>
			call(`/-/stage/${stageId}/approve`, {
				method: "POST",
				token: user.token,
				headers: otp ? { "npm-otp": otp } : {},
			});
		const withoutCode = await approve();
		expect(withoutCode.status).toBe(401);
		expect(withoutCode.headers.get("www-authenticate")).toBe("OTP");
		expect((await call(`/-/stage/${stageId}`, { method: "DELETE", token: user.token })).status).toBe(401);
		expect((await approve(totp.generate())).status).toBe(200);
		expect((await readPackument(name))["dist-tags"].latest).toBe("1.0.0");
	});

	it("expire after STAGE_TTL_DAYS with their bytes, from the package object's alarm", async () => {
		const name = uniqueName("staged");
		const publisher = await publisherFor(name);
		const { stageId } = await stage(name, publisher);
		const keys = await runInDurableObject(packageStub(name), (instance) => instance.blobKeys());
		await runInDurableObject(packageStub(name), (_instance, state) => {
			state.storage.sql.exec(`UPDATE staged SET expires_at = ?`, new Date(Date.now() - 1000).toISOString());
		});
		await runPackageAlarm(name);
		expect((await call(`/-/stage/${stageId}`, { token: publisher })).status).toBe(404);
		expect(await runInDurableObject(packageStub(name), (instance) => instance.blobKeys())).toEqual([]);
		for (const key of keys) expect(await env.BLOBS.head(key)).toBeNull();
	});
});
