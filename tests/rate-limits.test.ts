import { describe, expect, it } from "vitest";
import { ADMIN, call, createToken, publish, publisherFor, uniqueName } from "./helpers/registry";

// Rate limits per client IP (vitest.config.ts lowers them to 5 / 5 / 3 a minute): customer keys
// (all keys of one IP share the limit), anonymous requests, failed authentications.

let ip = 0;
/** A client address no other test uses, so each test starts with empty windows. */
const freshIp = () => `10.77.${Math.floor(Math.random() * 250)}.${++ip}`;

/** Windows are whole minutes: start each test well inside one, so its requests share it. */
async function insideOneWindow(): Promise<void> {
	const second = (Date.now() / 1000) % 60;
	if (second > 55) await new Promise((r) => setTimeout(r, (60 - second) * 1000 + 100));
}

async function expectLimited(res: Response): Promise<void> {
	expect(res.status).toBe(429);
	const retryAfter = Number(res.headers.get("retry-after"));
	expect(retryAfter).toBeGreaterThanOrEqual(1);
	expect(retryAfter).toBeLessThanOrEqual(60);
	expect(((await res.json()) as { error: string }).error).toMatch(/too many/);
}

describe("rate limits", () => {
	it("limits customer keys per client IP, whichever key they use", async () => {
		await insideOneWindow();
		const name = uniqueName("rl");
		await publish(name, "1.0.0", await publisherFor(name), { access: "public" });
		const first = (await createToken([{ package: name, permissions: ["read"] }], "customer")).token;
		const second = (await createToken([{ package: name, permissions: ["read"] }], "customer")).token;
		const from = freshIp();
		const get = (token: string, address = from) =>
			call(`/${name}`, { token, headers: { "cf-connecting-ip": address } });
		for (let i = 0; i < 5; i++) expect((await get(i % 2 === 0 ? first : second)).status).toBe(200);
		await expectLimited(await get(first));
		await expectLimited(await get(second)); // a fresh key does not escape the limit
		expect((await get(first, freshIp())).status).toBe(200); // another address has its own
		// developer tokens and the admin are not limited
		for (let i = 0; i < 6; i++) {
			expect((await call(`/${name}`, { token: ADMIN, headers: { "cf-connecting-ip": from } })).status).toBe(200);
		}
	});

	it("limits anonymous requests per client IP", async () => {
		await insideOneWindow();
		const from = freshIp();
		for (let i = 0; i < 5; i++) {
			expect((await call("/-/v1/search?text=x", { headers: { "cf-connecting-ip": from } })).status).toBe(200);
		}
		await expectLimited(await call("/-/v1/search?text=x", { headers: { "cf-connecting-ip": from } }));
		expect((await call("/-/v1/search?text=x", { headers: { "cf-connecting-ip": freshIp() } })).status).toBe(200);
	});

	it("limits failed authentications per client IP", async () => {
		await insideOneWindow();
		const from = freshIp();
		const wrong = () => call("/-/whoami", { token: `dev_${"0".repeat(64)}`, headers: { "cf-connecting-ip": from } });
		for (let i = 0; i < 3; i++) expect((await wrong()).status).toBe(401);
		await expectLimited(await wrong());
		const valid = (await createToken([])).token;
		expect((await call("/-/whoami", { token: valid, headers: { "cf-connecting-ip": from } })).status).toBe(200);
	});
});
