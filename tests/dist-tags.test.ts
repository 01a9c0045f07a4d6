import { describe, expect, it } from "vitest";
import { call, createToken, publish, publisherFor, readPackument, uniqueName } from "./helpers/registry";

// npm dist-tag ls/add/rm: GET, PUT (a JSON string body) and DELETE on /-/package/{name}/dist-tags.

describe("dist-tags", () => {
	it("lists, adds, moves and removes tags, and the packument follows", async () => {
		const scope = `@${uniqueName("s")}`;
		const name = `${scope}/tagged`;
		const token = await publisherFor(scope);
		await publish(name, "1.0.0", token);
		await publish(name, "2.0.0", token);
		const path = `/-/package/${scope}%2ftagged/dist-tags`;

		expect(await (await call(path, { token })).json()).toEqual({ latest: "2.0.0" });
		const add = await call(`${path}/beta`, { method: "PUT", token, body: JSON.stringify("1.0.0") });
		expect(add.status).toBe(201);
		expect(await (await call(path, { token })).json()).toEqual({ latest: "2.0.0", beta: "1.0.0" });
		await call(`${path}/beta`, { method: "PUT", token, body: JSON.stringify("2.0.0") });
		expect((await readPackument(name, token))["dist-tags"]).toEqual({ latest: "2.0.0", beta: "2.0.0" });
		await call(`${path}/latest`, { method: "PUT", token, body: JSON.stringify("1.0.0") });
		const version = await call(`/${scope}%2ftagged/latest`, { token });
		expect(((await version.json()) as { version: string }).version).toBe("1.0.0");

		expect((await call(`${path}/beta`, { method: "DELETE", token })).status).toBe(200);
		expect(await (await call(path, { token })).json()).toEqual({ latest: "1.0.0" });
	});

	it("refuses bad tags and versions, keeps latest, and changes nothing on refusal", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const path = `/-/package/${name}/dist-tags`;
		const cases: [string, RequestInit, number][] = [
			[`${path}/beta`, { method: "PUT", body: JSON.stringify("9.9.9") }, 404],
			[`${path}/beta`, { method: "PUT", body: JSON.stringify("not-a-version") }, 400],
			[`${path}/beta`, { method: "PUT", body: "1.0.0" }, 400],
			[`${path}/1.0.0`, { method: "PUT", body: JSON.stringify("1.0.0") }, 400],
			[`${path}/bad%20tag`, { method: "PUT", body: JSON.stringify("1.0.0") }, 400],
			[`${path}/latest`, { method: "DELETE" }, 400],
			[`${path}/missing`, { method: "DELETE" }, 404],
		];
		for (const [url, init, status] of cases) {
			const res = await call(url, { ...init, token });
			expect(res.status, `${init.method} ${url}`).toBe(status);
			expect(await res.json()).toHaveProperty("error");
		}
		expect(await (await call(path, { token })).json()).toEqual({ latest: "1.0.0" });
	});

	it("needs publish permission to move a tag; readers may list", async () => {
		const name = uniqueName();
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const reader = (await createToken([{ package: name, permissions: ["read", "upload"] }])).token;
		const path = `/-/package/${name}/dist-tags`;
		expect((await call(path, { token: reader })).status).toBe(200);
		const res = await call(`${path}/beta`, { method: "PUT", token: reader, body: JSON.stringify("1.0.0") });
		expect(res.status).toBe(403);
		expect((await call(`${path}/beta`, { method: "PUT", body: JSON.stringify("1.0.0") })).status).toBe(401);
		expect((await call(`/-/package/${uniqueName()}/dist-tags`, { token })).status).toBe(404);
	});
});
