import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { runPackageAlarm } from "./helpers/package-object";
import { ADMIN, call, createToken, publish, publisherFor, uniqueName } from "./helpers/registry";
import { gzipTar } from "./helpers/tarball";

// Retention of pre-release versions (#13): a policy per scope (or the registry's default; off by
// default) removes pre-release versions older than its days from the package objects' alarms,
// never one a channel targets or may roll back to, nor one a rollout serves.

const json = (body: unknown) => JSON.stringify(body);
const admin = (path: string, method = "GET", body?: unknown) =>
	call(path, { method, token: ADMIN, ...(body === undefined ? {} : { body: json(body) }) });

function scopeName(prefix: string) {
	return `@${uniqueName(prefix).replaceAll("-", "")}`;
}

/** A version that moves no channel (a bundle upload). */
async function upload(name: string, version: string, token: string) {
	const res = await call(`/packages/${name}/upload?version=${version}`, {
		method: "POST",
		token,
		body: await gzipTar({ "index.js": `export default ${json(version)};` }),
	});
	expect(res.status).toBe(201);
}

async function versions(name: string): Promise<string[]> {
	const res = await call(`/packages/${name}/versions`, { token: ADMIN, headers: { "cache-control": "no-cache" } });
	return ((await res.json()) as { versions: { version: string }[] }).versions.map((v) => v.version).sort();
}

describe("the retention policy", () => {
	it("is set per scope and as the registry's default, by admins only", async () => {
		const scope = scopeName("pol");
		expect((await admin(`/-/admin/scopes/${scope}`, "PUT", { prereleaseRetentionDays: 7 })).status).toBe(200);
		expect(await (await admin(`/-/admin/scopes/${scope}`)).json()).toEqual({
			scope,
			requireTwoFactor: false,
			prereleaseRetentionDays: 7,
		});
		expect((await admin(`/-/admin/scopes/${scope}`, "PUT", { prereleaseRetentionDays: -1 })).status).toBe(400);
		expect((await admin(`/-/admin/scopes/${scope}`, "PUT", {})).status).toBe(400);
		const settings = (await (await admin("/-/admin/retention")).json()) as {
			prereleaseRetentionDays: number | null;
			scopes: { scope: string }[];
		};
		expect(settings.prereleaseRetentionDays).toBeNull();
		expect(settings.scopes.map((s) => s.scope)).toContain(scope);
		const developer = await createToken([{ scope, permissions: ["read", "upload", "publish"] }]);
		expect((await call("/-/admin/retention", { method: "PUT", token: developer.token, body: "{}" })).status).toBe(403);
	});

	it("removes exactly the old pre-release versions that nothing needs, with their bytes, and audits it", async () => {
		const scope = scopeName("ret");
		const name = `${scope}/widget`;
		const token = await publisherFor(scope);
		await admin(`/-/admin/scopes/${scope}`, "PUT", { prereleaseRetentionDays: 0 });
		expect((await publish(name, "1.0.0", token, { access: "public" })).status).toBe(201);
		for (const version of ["1.1.0-beta.1", "1.1.0-beta.2", "1.2.0-rc.1", "2.0.0-alpha.1", "2.0.0-alpha.2"]) {
			await upload(name, version, token);
		}
		const move = (channel: string, version: string) =>
			call(`/packages/${name}/channels/${channel}`, { method: "POST", token, body: json({ version }) });
		await move("stable", "1.1.0-beta.2"); // stable's target: kept
		await move("beta", "1.2.0-rc.1");
		await move("beta", "1.0.0"); // 1.2.0-rc.1 stays in beta's last entries: kept
		await call(`/packages/${name}/channels/stable/rollout`, {
			method: "POST",
			token,
			body: json({ version: "2.0.0-alpha.2", percent: 10 }), // served by a rollout: kept
		});
		const removedBytes = (await env.BLOBS.list({ prefix: `tarballs/${name}/1.1.0-beta.1/` })).objects;
		expect(removedBytes).toHaveLength(1);

		await runPackageAlarm(name);
		expect(await versions(name)).toEqual(["1.0.0", "1.1.0-beta.2", "1.2.0-rc.1", "2.0.0-alpha.2"].sort());
		expect((await env.BLOBS.list({ prefix: `tarballs/${name}/1.1.0-beta.1/` })).objects).toEqual([]);
		const audit = await admin(`/-/admin/audit?package=${encodeURIComponent(name)}&limit=5`);
		const entry = (
			(await audit.json()) as { entries: { action: string; actor: string; detail: unknown }[] }
		).entries.find((e) => e.action === "retention.remove");
		expect(entry).toMatchObject({
			actor: "registry",
			detail: { versions: ["1.1.0-beta.1", "2.0.0-alpha.1"], days: 0, policy: "scope" },
		});
		// A removed number is never taken again.
		const again = await call(`/packages/${name}/upload?version=1.1.0-beta.1`, {
			method: "POST",
			token,
			body: await gzipTar({ "index.js": "export default 1;" }),
		});
		expect(again.status).toBe(403);
	});

	it("removes nothing while no policy applies, nor anything younger than the policy's days", async () => {
		const off = scopeName("off");
		const young = scopeName("young");
		await admin(`/-/admin/scopes/${young}`, "PUT", { prereleaseRetentionDays: 30 });
		for (const scope of [off, young]) {
			const name = `${scope}/lib`;
			const token = await publisherFor(scope);
			await publish(name, "1.0.0", token);
			await upload(name, "1.1.0-beta.1", token);
			await runPackageAlarm(name);
			expect(await versions(name)).toEqual(["1.0.0", "1.1.0-beta.1"]);
		}
	});

	it("follows the registry's default where a scope has none", async () => {
		const name = uniqueName("unscoped");
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		await upload(name, "1.1.0-beta.1", token);
		expect((await admin("/-/admin/retention", "PUT", { prereleaseRetentionDays: 0 })).status).toBe(200);
		try {
			await runPackageAlarm(name);
			expect(await versions(name)).toEqual(["1.0.0"]);
		} finally {
			await admin("/-/admin/retention", "PUT", { prereleaseRetentionDays: null });
		}
	});
});
