import { describe, expect, it } from "vitest";
import { ADMIN, call, createToken, publish, publisherFor, uniqueName } from "./helpers/registry";

// Rate limits per client IP (vitest.config.ts lowers them to 5 / 5 / 3 a minute): customer keys
// (all keys of one IP share the limit), anonymous requests, failed authentications.

let ip = 0;
/** A client address no other test uses, so each test starts with empty windows. */
const freshIp = () => `10.77.${Math.floor(Math.random() * 250)}.${++ip}`;

/**
 * Windows are whole minutes of the wall clock, and a test's requests must share one. Instead of
 * waiting for a new minute when one is about to end (#23.6), a run that crossed into the next
 * minute and failed is run again from a fresh address: that run starts just after the boundary,
 * well inside its window. A failure within one minute is a failure.
 */
async function withinOneWindow(run: (from: string) => Promise<void>): Promise<void> {
	const minute = () => Math.floor(Date.now() / 60_000);
	const started = minute();
	try {
		await run(freshIp());
	} catch (error) {
		if (minute() === started) throw error;
		await run(freshIp());
	}
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
		const name = uniqueName("rl");
		await publish(name, "1.0.0", await publisherFor(name), { access: "public" });
		const first = (await createToken([{ package: name, permissions: ["read"] }], "customer")).token;
		const second = (await createToken([{ package: name, permissions: ["read"] }], "customer")).token;
		await withinOneWindow(async (from) => {
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
	});

	it("limits anonymous requests per client IP", async () => {
		await withinOneWindow(async (from) => {
			for (let i = 0; i < 5; i++) {
				expect((await call("/-/v1/search?text=x", { headers: { "cf-connecting-ip": from } })).status).toBe(200);
			}
			await expectLimited(await call("/-/v1/search?text=x", { headers: { "cf-connecting-ip": from } }));
			expect((await call("/-/v1/search?text=x", { headers: { "cf-connecting-ip": freshIp() } })).status).toBe(200);
		});
	});

	it("limits failed authentications per client IP", async () => {
		const valid = (await createToken([])).token;
		await withinOneWindow(async (from) => {
			const wrong = () => call("/-/whoami", { token: `dev_${"0".repeat(64)}`, headers: { "cf-connecting-ip": from } });
			for (let i = 0; i < 3; i++) expect((await wrong()).status).toBe(401);
			await expectLimited(await wrong());
			expect((await call("/-/whoami", { token: valid, headers: { "cf-connecting-ip": from } })).status).toBe(200);
		});
	});
});
