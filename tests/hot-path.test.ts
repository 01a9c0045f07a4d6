import { describe, expect, it } from "vitest";
import { ADMIN, call, createToken } from "./helpers/registry";

// The hot path's isolate memory (#25): a token's principal made once per token record and client
// address, and parsed names remembered by their raw text. Neither may change an answer: a token
// is still checked against its address ranges for every other address, a revoked token is refused
// at once where it was revoked, and a name refused once is refused alike every time.

const json = (body: unknown) => JSON.stringify(body);
/** Addresses of TEST-NET-2 that no other test uses. */
const ALLOWED = "198.51.100.201";
const OTHER = "198.51.100.202";

describe("#25 a token's principal kept in isolate memory", () => {
	it("#25 never serves a principal made for one address to another: a fenced token alternates by address", async () => {
		const [allowed, other] = [ALLOWED, OTHER];
		const created = await call("/-/admin/tokens", {
			method: "POST",
			token: ADMIN,
			body: json({ kind: "developer", name: "fenced", grants: [], cidr: [`${allowed}/32`] }),
		});
		const { token } = (await created.json()) as { token: string };
		const whoami = (address: string) =>
			call("/-/whoami", { token, headers: { "cf-connecting-ip": address } }).then((res) => res.status);
		expect([await whoami(allowed), await whoami(other), await whoami(allowed), await whoami(other)]).toEqual([
			200, 403, 200, 403,
		]);
	});

	it("#25 refuses a token revoked in this isolate at once, though its principal was made and used", async () => {
		const { id, token } = await createToken([]);
		expect((await call("/-/whoami", { token })).status).toBe(200);
		expect((await call(`/-/admin/tokens/${id}`, { method: "DELETE", token: ADMIN })).status).toBeLessThan(300);
		expect((await call("/-/whoami", { token })).status).toBe(401);
	});
});

describe("#25 parsed names remembered by their raw text", () => {
	it("#25 refuses an invalid name alike every time it is asked for", async () => {
		const answers = [];
		for (let i = 0; i < 3; i++) {
			const res = await call("/Invalid-Upper-Case");
			answers.push({ status: res.status, body: await res.text() });
		}
		expect(answers[0]?.status).toBe(400);
		expect(answers[1]).toEqual(answers[0]);
		expect(answers[2]).toEqual(answers[0]);
	});
});
