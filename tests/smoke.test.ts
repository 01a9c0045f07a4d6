import { SELF } from "cloudflare:test";
import { expect, it } from "vitest";

it("answers ping", async () => {
	const res = await SELF.fetch("http://registry.test/-/ping");
	expect(res.status).toBe(200);
	expect(await res.json()).toEqual({});
});
