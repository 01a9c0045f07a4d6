import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
	ADMIN,
	call,
	createToken,
	packument,
	publish,
	publisherFor,
	readPackument,
	uniqueName,
} from "./helpers/registry";

// npm deprecate and npm unpublish, driven with the exact requests npm 11 sends.

async function deprecate(name: string, token: string, messages: Record<string, string>): Promise<Response> {
	const doc = await readPackument(name, token);
	for (const [version, message] of Object.entries(messages)) {
		const v = doc.versions[version];
		if (v) v.deprecated = message;
	}
	return call(`/${name}`, { method: "PUT", token, body: JSON.stringify(doc) });
}

/** `npm unpublish name@version`: PUT the document without it, then DELETE its tarball. */
async function unpublishVersion(name: string, version: string, token: string): Promise<[Response, Response]> {
	const doc = await readPackument(name, token);
	const dist = doc.versions[version]?.dist;
	delete doc.versions[version];
	const put = await call(`/${name}/-rev/${doc._rev}`, { method: "PUT", token, body: JSON.stringify(doc) });
	const { _rev } = await readPackument(name, token);
	const tarballPath = new URL(dist?.tarball ?? "http://x/").pathname;
	const del = await call(`${tarballPath}/-rev/${_rev}`, { method: "DELETE", token });
	return [put, del];
}

describe("npm deprecate", () => {
	it("sets and clears deprecation messages, and changes nothing else", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		await publish(name, "1.1.0", token);
		const before = await readPackument(name, token);

		const res = await deprecate(name, token, { "1.0.0": "use 1.1.0" });
		expect(res.status).toBe(200);
		const after = await readPackument(name, token);
		expect(after.versions["1.0.0"]?.deprecated).toBe("use 1.1.0");
		expect(after.versions["1.1.0"]?.deprecated).toBeUndefined();
		expect(after["dist-tags"]).toEqual(before["dist-tags"]);
		const abbreviated = await packument(name, token, "application/vnd.npm.install-v1+json");
		const versions = ((await abbreviated.json()) as { versions: Record<string, { deprecated?: string }> }).versions;
		expect(versions["1.0.0"]?.deprecated).toBe("use 1.1.0");

		await deprecate(name, token, { "1.0.0": "" });
		expect((await readPackument(name, token)).versions["1.0.0"]?.deprecated).toBeUndefined();
	});

	it("ignores what npm never changes this way: tags, descriptions, dist", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const doc = await readPackument(name, token);
		doc["dist-tags"] = { latest: "1.0.0", evil: "1.0.0" };
		doc.description = "rewritten";
		const v = doc.versions["1.0.0"];
		if (v) v.dist.integrity = "sha512-forged";
		const res = await call(`/${name}`, { method: "PUT", token, body: JSON.stringify(doc) });
		expect(res.status).toBe(200);
		const after = await readPackument(name, token);
		expect(after["dist-tags"]).toEqual({ latest: "1.0.0" });
		expect(after.description).toBe(`${name} description`);
		expect(after.versions["1.0.0"]?.dist.integrity).not.toBe("sha512-forged");
	});

	it("refuses a version without its attachment, and needs publish permission", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const doc = await readPackument(name, token);
		const v = doc.versions["1.0.0"];
		if (!v) throw new Error("missing");
		doc.versions["2.0.0"] = { ...v, version: "2.0.0" };
		const res = await call(`/${name}`, { method: "PUT", token, body: JSON.stringify(doc) });
		expect(res.status).toBe(400);
		expect(((await res.json()) as { error: string }).error).toMatch(/without its tarball/);
		expect(Object.keys((await readPackument(name, token)).versions)).toEqual(["1.0.0"]);

		const reader = (await createToken([{ package: name, permissions: ["read"] }])).token;
		expect((await deprecate(name, reader, { "1.0.0": "x" })).status).toBe(403);
	});
});

describe("npm unpublish", () => {
	it("removes one version, its tags and its bytes, and keeps the rest", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		await publish(name, "2.0.0-rc.0", token, { tag: "next" });
		// A version on a channel's recent history is protected; dropping the tag drops that history.
		await call(`/-/package/${name}/dist-tags/next`, { method: "DELETE", token });

		const [put, del] = await unpublishVersion(name, "2.0.0-rc.0", token);
		expect(put.status).toBe(200);
		expect(del.status).toBe(200);
		const doc = await readPackument(name, token);
		expect(Object.keys(doc.versions)).toEqual(["1.0.0"]);
		expect(doc["dist-tags"]).toEqual({ latest: "1.0.0" });
		expect(doc.time["2.0.0-rc.0"]).toBeUndefined();
		expect((await call(`/${name}/-/${name}-2.0.0-rc.0.tgz`, { token })).status).toBe(404);
		const listed = await env.BLOBS.list({ prefix: `tarballs/${name}/2.0.0-rc.0/` });
		expect(listed.objects).toEqual([]);
	});

	it("refuses a stale _rev with 409 and changes nothing", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		await publish(name, "1.0.1", token, { tag: "tmp" });
		await call(`/-/package/${name}/dist-tags/tmp`, { method: "DELETE", token });
		const stale = await readPackument(name, token);
		await call(`/${name}`, { method: "PUT", token, body: JSON.stringify(stale) }); // bumps _rev
		delete stale.versions["1.0.1"];
		const res = await call(`/${name}/-rev/${stale._rev}`, { method: "PUT", token, body: JSON.stringify(stale) });
		expect(res.status).toBe(409);
		expect(Object.keys((await readPackument(name, token)).versions)).toEqual(["1.0.0", "1.0.1"]);
	});

	it("unpublishes the version just published, which latest points at, for its publisher (#13)", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		await publish(name, "1.0.1", token);
		const [put, del] = await unpublishVersion(name, "1.0.1", token);
		expect([put.status, del.status]).toEqual([200, 200]);
		const doc = await readPackument(name, token);
		expect(Object.keys(doc.versions)).toEqual(["1.0.0"]);
		// latest moved back along its own history to the version it pointed at before
		expect(doc["dist-tags"]).toEqual({ latest: "1.0.0" });
		const audit = await call(`/-/admin/audit?package=${name}&limit=1`, { token: ADMIN });
		expect(((await audit.json()) as { entries: { action: string; target: string }[] }).entries[0]).toMatchObject({
			action: "unpublish",
			target: "1.0.1",
		});
	});

	it("protects a version a loader channel may roll back to, unless forced, naming the channel (#13)", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		await publish(name, "1.0.1", token);
		await call(`/packages/${name}/channels/stable`, { method: "POST", token, body: '{"version":"1.0.1"}' });
		const [put] = await unpublishVersion(name, "1.0.1", token);
		expect(put.status).toBe(409);
		expect(((await put.json()) as { error: string }).error).toMatch(/1\.0\.1 is protected: channel "stable"/);
		expect(Object.keys((await readPackument(name, token)).versions)).toEqual(["1.0.0", "1.0.1"]);
		const { _rev } = await readPackument(name, token);
		const forced = await call(`/${name}/-/${name}-1.0.1.tgz/-rev/${_rev}?force=true`, { method: "DELETE", token });
		expect(forced.status).toBe(200);
		expect(Object.keys((await readPackument(name, token)).versions)).toEqual(["1.0.0"]);
	});

	it("refuses to unpublish a whole package while a loader channel points into it, unless forced (#13)", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		await call(`/packages/${name}/channels/stable`, { method: "POST", token, body: '{"version":"1.0.0"}' });
		const { _rev } = await readPackument(name, token);
		const refused = await call(`/${name}/-rev/${_rev}`, { method: "DELETE", token });
		expect(refused.status).toBe(409);
		expect(((await refused.json()) as { error: string }).error).toMatch(/in use through channel "stable"/);
		expect((await call(`/${name}/-rev/${_rev}?force=true`, { method: "DELETE", token })).status).toBe(200);
		expect((await packument(name, token)).status).toBe(404);
	});

	it("unpublishes a whole package, which then reads as 404 and keeps its version numbers", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		await publish(name, "1.1.0", token);
		const { _rev } = await readPackument(name, token);
		expect((await call(`/${name}/-rev/0-stale`, { method: "DELETE", token })).status).toBe(409);
		const res = await call(`/${name}/-rev/${_rev}`, { method: "DELETE", token });
		expect(res.status).toBe(200);
		expect((await packument(name, token)).status).toBe(404);
		expect((await call(`/${name}/-/${name}-1.0.0.tgz`, { token })).status).toBe(404);
		expect((await env.BLOBS.list({ prefix: `tarballs/${name}/` })).objects).toEqual([]);

		expect((await publish(name, "1.1.0", token)).status).toBe(403);
		expect((await publish(name, "1.2.0", token)).status).toBe(201);
		expect(Object.keys((await readPackument(name, token)).versions)).toEqual(["1.2.0"]);
	});

	it("needs a token with publish permission", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const { _rev } = await readPackument(name, token);
		expect((await call(`/${name}/-rev/${_rev}`, { method: "DELETE" })).status).toBe(401);
		expect((await packument(name, token)).status).toBe(200);
	});
});
