import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { packageObject } from "../durable-objects/stubs";
import { takeBatch } from "../worker/metrics/isolate";
import { memoryForgetPackage, memoryGet, memoryPut, memoryRefusalBytes, memoryStats } from "../worker/read-tier/memory";
import { keepRefusal } from "../worker/read-tier/refusals-kept";
import { refused } from "../worker/refusals";
import { ADMIN, call, createToken, publish, publisherFor, uniqueName } from "./helpers/registry";

// Negative answers in the read tier (#25): the 404 of a missing package, or of a restricted one the
// caller may not read, kept per caller class for a few seconds, so repeated refusals do not reach
// the package object; exactly the 404 a missing package gets, whatever it refused; gone at once,
// in the isolate that made it, after a write to the package or a change of the token's grants.
// And (#22.9) the object refuses a caller it hides a package from before it builds anything.
// Object calls are counted by the metrics (worker/objects.ts); nothing here times anything.

const json = (body: unknown) => JSON.stringify(body);
const outcome = (res: Response) => res.headers.get("x-registry-cache");

type Metrics = { objectCalls: Record<string, number> };
async function packageCalls(): Promise<number> {
	return ((await (await call("/-/admin/metrics", { token: ADMIN })).json()) as Metrics).objectCalls.package ?? 0;
}

/** An answer as a client sees it: status, headers (but the date) and body, with the name written NAME. */
async function seen(res: Response, name: string) {
	const headers = [...res.headers].filter(([k]) => k !== "date").sort();
	return { status: res.status, headers, body: (await res.text()).replaceAll(name, "NAME") };
}

/** The package object calls `times` reads of `path` make, and what the last one answered. */
async function repeated(path: string, times: number, token: string | null = null) {
	const before = await packageCalls();
	let last: Response | null = null;
	for (let i = 0; i < times; i++) {
		last = await call(path, { token });
		if (i < times - 1) await last.arrayBuffer();
	}
	return { calls: (await packageCalls()) - before, last: last as Response };
}

async function restrictedPackage(prefix: string) {
	const name = uniqueName(prefix);
	const token = await publisherFor(name);
	expect((await publish(name, "1.0.0", token, { access: "restricted" })).status).toBe(201);
	return { name, token };
}

const ROUTES = [
	["packument", (name: string) => `/${name}`],
	["version", (name: string) => `/${name}/1.0.0`],
	["tarball", (name: string) => `/${name}/-/${name}-1.0.0.tgz`],
	["package page", (name: string) => `/package/${name}`],
] as const;

describe("#25 anonymous 404s are kept by the read tier", () => {
	it.each(ROUTES)(
		"#25 %s: 20 anonymous reads of a restricted package ask its object once, each answering a missing package's 404",
		async (_, path) => {
			const { name } = await restrictedPackage("kept");
			const missing = uniqueName("kept");
			const restricted = await repeated(path(name), 20);
			const absent = await repeated(path(missing), 20);
			expect(restricted.calls).toBe(1);
			expect(absent.calls).toBe(1);
			expect(await seen(restricted.last, name)).toEqual(await seen(absent.last, missing));
			expect(restricted.last.status).toBe(404);
		},
	);

	it("#25 answers a kept packument 404 as the router answers the refusal the object made: same status, headers and body, counted as the same refusal", async () => {
		const { name } = await restrictedPackage("kept-same");
		takeBatch();
		const first = await seen(await call(`/${name}`), name);
		const before = await packageCalls();
		const kept = await call(`/${name}`);
		expect(await packageCalls()).toBe(before);
		expect(await seen(kept, name)).toEqual(first);
		expect(first.status).toBe(404);
		expect(takeBatch()?.routes["GET /{name}"]?.refused).toEqual({ notFound: 2 });
	});

	it("#25 keeps a refusal per caller class: a reader with a grant is served, a token without one is refused", async () => {
		const { name } = await restrictedPackage("classes");
		expect((await call(`/${name}`)).status).toBe(404);
		const reader = await createToken([{ package: name, permissions: ["read"] }]);
		expect((await call(`/${name}`, { token: reader.token })).status).toBe(200);
		const stranger = await createToken([{ package: uniqueName("other"), permissions: ["read"] }]);
		const refused = await repeated(`/${name}`, 10, stranger.token);
		expect(refused.last.status).toBe(404);
		expect(refused.calls).toBe(1);
	});

	it("#25 counts kept refusals in the tier's memory budget", async () => {
		const before = memoryStats();
		for (let i = 0; i < 20; i++) await (await call(`/${uniqueName("budget")}`)).arrayBuffer();
		const after = memoryStats();
		expect(after.entries - before.entries).toBe(20);
		expect(after.bytes - before.bytes).toBeGreaterThan(20 * 256);
	});

	it("#25 keeps refusals within a megabyte of the budget: made-up names never push out real packages' entries", () => {
		const owner = uniqueName("real");
		const entry = { status: 200, headers: [] as [string, string][], body: "{}", access: null, rev: null };
		memoryPut(`real:${owner}`, owner, { ...entry, storedAt: Date.now() });
		for (let i = 0; i < 2_000; i++) {
			const name = uniqueName("made-up");
			keepRefusal("anonymous", `${name}:${"k".repeat(1_000)}`, name, refused.hidden());
		}
		expect(memoryRefusalBytes()).toBeGreaterThan(512 * 1024);
		expect(memoryRefusalBytes()).toBeLessThanOrEqual(1024 * 1024);
		expect(memoryGet(`real:${owner}`)).not.toBeNull();
		memoryForgetPackage(owner);
	});
});

describe("#25 a kept 404 goes at once where the change is made", () => {
	it("#25 a publish of a name kept as missing is read at once, anonymous and by a token", async () => {
		const name = uniqueName("then-published");
		const token = await publisherFor(name);
		expect((await repeated(`/${name}`, 3)).calls).toBe(1);
		expect((await repeated(`/${name}`, 3, token)).calls).toBe(1);
		expect((await publish(name, "1.0.0", token, { access: "public" })).status).toBe(201);
		expect((await call(`/${name}`)).status).toBe(200);
		expect((await call(`/${name}`, { token })).status).toBe(200);
		expect((await call(`/${name}/-/${name}-1.0.0.tgz`)).status).toBe(200);
	});

	it("#25 a restricted package made public is read at once by anonymous callers", async () => {
		const scope = `@${uniqueName("scope")}`;
		const name = `${scope}/made-public`;
		const owner = await publisherFor(scope);
		expect((await publish(name, "1.0.0", owner, { access: "restricted" })).status).toBe(201);
		expect((await repeated(`/${name}`, 3)).calls).toBe(1);
		const access = await call(`/-/package/${name}/access`, {
			method: "POST",
			token: owner,
			body: json({ access: "public" }),
		});
		expect(access.status).toBeLessThan(300);
		expect((await call(`/${name}`)).status).toBe(200);
	});

	it("#25 a grant to a token whose 404 is kept lets it read at once; an ungrant hides it again at once", async () => {
		const { name } = await restrictedPackage("then-granted");
		// A second grant keeps the token's grants non-empty after the ungrant.
		const reader = await createToken([{ package: uniqueName("other"), permissions: ["read"] }]);
		const before = await repeated(`/${name}`, 3, reader.token);
		expect(before.last.status).toBe(404);
		expect(before.calls).toBe(1);
		const grant = await call(`/-/admin/tokens/${reader.id}/grants`, {
			method: "POST",
			token: ADMIN,
			body: json({ package: name, permissions: ["read"] }),
		});
		expect(grant.status).toBe(200);
		const granted = await call(`/${name}`, { token: reader.token });
		expect(granted.status).toBe(200);
		expect(outcome(granted)).not.toBeNull();
		const ungrant = await call(`/-/admin/tokens/${reader.id}/grants`, {
			method: "DELETE",
			token: ADMIN,
			body: json({ package: name }),
		});
		expect(ungrant.status).toBe(200);
		expect((await call(`/${name}`, { token: reader.token })).status).toBe(404);
	});
});

describe("#22.9 the package object refuses a caller it hides a package from before building anything", () => {
	it("#22.9 answers a reader who may not read restricted packages exactly as for a missing package", async () => {
		const { name } = await restrictedPackage("unbuilt");
		const missing = uniqueName("unbuilt");
		const hidden = packageObject(env, name);
		const absent = packageObject(env, missing);
		const refusedAsMissing = await absent.servedPackument(missing, "full", null, false);
		expect(refusedAsMissing.ok).toBe(false);
		expect(await hidden.servedPackument(name, "full", null, false)).toEqual(refusedAsMissing);
		expect(await hidden.servedPackument(name, "abbreviated", null, false)).toEqual(
			await absent.servedPackument(missing, "abbreviated", null, false),
		);
		expect(await hidden.servedVersionDocument(name, "1.0.0", false)).toEqual(
			await absent.servedVersionDocument(missing, "1.0.0", false),
		);
		expect(await hidden.page(null, false)).toEqual(await absent.page(null, false));
		// A reader who may is served, as before.
		expect((await hidden.servedPackument(name, "full", null, true)).ok).toBe(true);
		expect((await hidden.page(null)).ok).toBe(true);
	});
});
