import { describe, expect, it } from "vitest";
import { ADMIN, call, createToken, publish, uniqueName } from "./helpers/registry";

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

describe("#25 hot answers' header sets made once (prepared-answer.ts)", () => {
	it("#25 gives every tarball and channel answer, hit or not, its own Cache-Control and CORS, made once per set", async () => {
		const open = uniqueName("prepared");
		const closed = uniqueName("prepared-restricted");
		expect((await publish(open, "1.0.0", ADMIN, { access: "public" })).status).toBe(201);
		expect((await publish(closed, "1.0.0", ADMIN, { access: "restricted" })).status).toBe(201);
		const headersOf = (res: Response) => ({
			status: res.status,
			cacheControl: res.headers.get("cache-control"),
			cors: res.headers.get("access-control-allow-origin"),
			cache: res.headers.get("x-registry-cache"),
		});
		const tarball = async (name: string) => headersOf(await call(`/${name}/-/${name}-1.0.0.tgz`, { token: ADMIN }));
		// Public and restricted tarballs alternate, each answered from the read tier after its first.
		const tarballs = [];
		for (let i = 0; i < 3; i++) tarballs.push(await tarball(open), await tarball(closed));
		const immutable = "max-age=31536000, immutable";
		expect(tarballs.slice(2)).toEqual(
			Array.from({ length: 2 }, () => [
				{ status: 200, cacheControl: `public, ${immutable}`, cors: null, cache: "hit" },
				{ status: 200, cacheControl: `private, ${immutable}`, cors: null, cache: "hit" },
			]).flat(),
		);

		for (const name of [open, closed]) {
			const made = await call(`/packages/${name}/channels/stable`, {
				method: "POST",
				token: ADMIN,
				body: JSON.stringify({ version: "1.0.0" }),
			});
			expect(made.status).toBe(201);
		}
		const channel = async (name: string, etag?: string) =>
			call(`/packages/${name}/channels/stable`, { token: ADMIN, headers: etag ? { "if-none-match": etag } : {} });
		const first = await channel(open);
		const etag = first.headers.get("etag") ?? "";
		const answers = [headersOf(first)];
		for (let i = 0; i < 2; i++) {
			answers.push(
				headersOf(await channel(open)),
				headersOf(await channel(open, etag)),
				headersOf(await channel(closed)),
			);
		}
		const cors = "*";
		// The second round: every answer from the read tier.
		expect(answers.slice(4)).toEqual([
			{ status: 200, cacheControl: "public, no-cache", cors, cache: "hit" },
			{ status: 304, cacheControl: "public, no-cache", cors, cache: "hit" },
			{ status: 200, cacheControl: "private, no-cache", cors, cache: "hit" },
		]);
		// During a rollout the answer is one client's: never for a shared cache.
		expect((await publish(open, "2.0.0", ADMIN, { access: "public" })).status).toBe(201);
		const rollout = await call(`/packages/${open}/channels/stable/rollout`, {
			method: "POST",
			token: ADMIN,
			body: JSON.stringify({ version: "2.0.0", percent: 50 }),
		});
		expect(rollout.status).toBe(201);
		const perClient = [];
		for (let i = 0; i < 2; i++) perClient.push(headersOf(await channel(open)).cacheControl);
		expect(perClient).toEqual(["private, no-cache", "private, no-cache"]);
	});
});
