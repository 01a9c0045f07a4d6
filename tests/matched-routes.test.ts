import { Router } from "itty-router";
import { describe, expect, it } from "vitest";
import type { RouteRequest } from "../worker/http";
import { matchedRoutesState, routeRead } from "../worker/matched-routes";
import { takeBatch } from "../worker/metrics/isolate";
import { declare } from "../worker/route-policy";
import { ADMIN, call, createToken, publish, uniqueName } from "./helpers/registry";

// Repeat reads go straight to the route their path matched before
// (worker/matched-routes.ts, #25). The shortcut may change no answer: a remembered path answers
// exactly as the router answers it (the same request with a query string is routed as usual and
// reads the same kept entries), refusals included, and the memory stays bounded.

const ABBREVIATED = "application/vnd.npm.install-v1+json";

/** Status, every header and the body: what a client can tell two answers apart by. */
async function seen(res: Response) {
	const bytes = new Uint8Array(await res.arrayBuffer());
	return { status: res.status, headers: [...res.headers], body: new TextDecoder().decode(bytes), bytes: [...bytes] };
}

/** The answer through the remembered route, and the same request routed by the router. */
async function throughBoth(path: string, init: Parameters<typeof call>[1] = {}) {
	await call(path, init); // the first request for a path is routed, and its route remembered
	const before = matchedRoutesState().repeats;
	const remembered = await seen(await call(path, init));
	const dispatched = matchedRoutesState().repeats - before;
	const routed = await seen(await call(`${path}${path.includes("?") ? "&" : "?"}routed=1`, init));
	expect(matchedRoutesState().repeats - before).toBe(dispatched);
	return { remembered, routed, dispatched };
}

describe("#25 repeat reads through the route their path matched before", () => {
	it("#25 answers packuments, tarballs, version documents, channel lookups, files and the registry's own reads as the router does", async () => {
		const name = uniqueName("matched");
		const scoped = `@${uniqueName("matched").replaceAll("-", "")}/pkg`;
		expect((await publish(name, "1.0.0", ADMIN, { access: "public" })).status).toBe(201);
		expect((await publish(scoped, "1.0.0", ADMIN, { access: "public" })).status).toBe(201);
		const channel = await call(`/packages/${name}/channels/stable`, {
			method: "POST",
			token: ADMIN,
			body: JSON.stringify({ version: "1.0.0" }),
		});
		expect(channel.status).toBe(201);
		const etag = (await call(`/${name}`, { headers: { accept: ABBREVIATED } })).headers.get("etag") ?? "";
		const reads: [string, Parameters<typeof call>[1]][] = [
			[`/${name}`, {}],
			[`/${name}`, { headers: { accept: ABBREVIATED } }],
			[`/${name}`, { headers: { accept: ABBREVIATED, "if-none-match": etag } }],
			[`/${name}`, { method: "HEAD" }],
			[`/${name}`, { token: ADMIN }],
			[`/${scoped}`, {}],
			[`/${scoped.replace("/", "%2f")}`, { headers: { accept: ABBREVIATED } }],
			[`/${name}/1.0.0`, {}],
			[`/${name}/latest`, {}],
			[`/${name}/-/${name}-1.0.0.tgz`, {}],
			[`/${scoped}/-/pkg-1.0.0.tgz`, { token: ADMIN }],
			[`/${name}/-/${name}-9.9.9.tgz`, {}],
			[`/packages/${name}/channels/stable`, {}],
			[`/packages/${name}/channels/stable`, { headers: { origin: "https://app.example" } }],
			[`/packages/${name}/channels/nope`, {}],
			[`/files/${name}@1.0.0/index.js`, {}],
			[`/${uniqueName("missing")}`, {}],
			["/-/ping", { token: ADMIN }],
			["/-/whoami", { token: ADMIN }],
			["/-/whoami", {}],
		];
		for (const [path, init] of reads) {
			const { remembered, routed, dispatched } = await throughBoth(path, init);
			expect({ path, init, ...remembered }).toEqual({ path, init, ...routed });
			expect({ path, dispatched }).toEqual({ path, dispatched: 1 });
		}
		// A page names its own URL (its sign-in link's `next`), query included: that is all that differs.
		const page = await throughBoth(`/package/${name}`);
		const withoutBytes = ({ bytes: _, ...rest }: Awaited<ReturnType<typeof seen>>) => rest;
		expect(withoutBytes(page.remembered)).toEqual({
			...withoutBytes(page.routed),
			body: page.routed.body.replace(encodeURIComponent("?routed=1"), ""),
		});
		expect(page.dispatched).toBe(1);
	});

	it("#25 refuses through a remembered route exactly as through the router: hidden packages, bad tokens, bad names", async () => {
		const name = uniqueName("matched-closed");
		expect((await publish(name, "1.0.0", ADMIN, { access: "restricted" })).status).toBe(201);
		const { token: stranger } = await createToken([]);
		// The path's route is remembered by a caller who may read the package, then asked by others.
		expect((await call(`/${name}`, { token: ADMIN })).status).toBe(200);
		const missing = await seen(await call(`/${uniqueName("never")}`));
		for (const token of [null, stranger]) {
			const { remembered, routed } = await throughBoth(`/${name}`, { token });
			expect(remembered).toEqual(routed);
			expect(remembered.status).toBe(404);
			expect(remembered.body).toBe(missing.body);
		}
		const badToken = await throughBoth(`/${name}/-/${name}-1.0.0.tgz`, { token: "dev_not-a-token-at-all-0000000000" });
		expect(badToken.remembered).toEqual(badToken.routed);
		expect(badToken.remembered.status).toBe(401);
		const badName = await throughBoth("/Upper-Case-Name");
		expect(badName.remembered).toEqual(badName.routed);
		expect(badName.remembered.status).toBe(400);
	});

	it("#25 routes a request with a query string as usual: the query is the handler's to read", async () => {
		const name = uniqueName("matched-query");
		expect((await publish(name, "1.0.0", ADMIN, { access: "public" })).status).toBe(201);
		const abbreviated = { headers: { accept: ABBREVIATED } };
		await call(`/${name}`, abbreviated);
		const before = matchedRoutesState().repeats;
		// `?write=true` asks for the full packument whatever the Accept header says (npm does before a write).
		const full = await call(`/${name}?write=true`, abbreviated);
		expect(matchedRoutesState().repeats).toBe(before);
		expect(full.headers.get("content-type")).toBe("application/json; charset=utf-8");
		expect(
			((await full.json()) as { versions: Record<string, { dist: object }> }).versions["1.0.0"]?.dist,
		).toBeTruthy();
		expect((await call(`/${name}`, abbreviated)).headers.get("content-type")).toContain(ABBREVIATED);
		expect(matchedRoutesState().repeats).toBe(before + 1);
	});

	it("#25 counts a remembered route's requests under its route in the registry's metrics", async () => {
		const name = uniqueName("matched-metrics");
		expect((await publish(name, "1.0.0", ADMIN, { access: "public" })).status).toBe(201);
		const tarball = `/${name}/-/${name}-1.0.0.tgz`;
		await call(tarball);
		takeBatch();
		const before = matchedRoutesState().repeats;
		for (let i = 0; i < 3; i++) expect((await call(tarball)).status).toBe(200);
		expect(matchedRoutesState().repeats).toBe(before + 3);
		const batch = takeBatch();
		expect(Object.keys(batch?.routes ?? {})).toEqual(["GET /{name}/-/{file}"]);
		expect(batch?.routes["GET /{name}/-/{file}"]).toMatchObject({ requests: 3, s2xx: 3, hit: 3 });
	});

	it("#25 remembers neither unknown endpoints nor paths no package has", async () => {
		const { remembered } = matchedRoutesState();
		for (const path of ["/packages/x/nonsense/deeper", `/${"a".repeat(300)}`]) {
			await call(path);
			await call(path);
		}
		expect(matchedRoutesState().remembered).toBe(remembered);
	});
});

describe("#25 the shortcut runs a route as itty-router runs it (a table of its own)", () => {
	type Table = Parameters<typeof routeRead>[0];
	/** A table with the registry's kind of hooks: a `before` that may answer, a `catch`, a `finally`. */
	function table() {
		const made = Router<RouteRequest, [Env, ExecutionContext], Response>({
			before: [(request) => (request.headers.has("x-refuse") ? new Response("refused", { status: 503 }) : undefined)],
			catch: (error) => new Response(`caught ${(error as Error).message}`, { status: 500 }),
			finally: [
				(response: Response) => {
					if (response.headers.get("x-fail-after") === "yes") throw new Error("after");
					const copy = new Response(response.body, response);
					copy.headers.set("x-finally", "ran");
					return copy;
				},
			],
		});
		const read = (request: RouteRequest) => {
			if (request.params.pkg === "throws") throw new Error("in handler");
			const failAfter = request.params.pkg === "fails-after" ? "yes" : "no";
			return new Response(`read ${request.params.pkg}`, { headers: { "x-fail-after": failAfter } });
		};
		made.get("/:pkg", declare(read, { auth: "none", cache: "none" }));
		// A handler without a declared policy may answer nothing and let the next route answer.
		made.get("/undeclared/:pkg", () => new Response("undeclared"));
		made.all("*", () => new Response("unknown", { status: 404 }));
		return made as unknown as Table;
	}
	const env = {} as Env;
	const ctx = {} as ExecutionContext;
	const ask = (routes: Table, path: string, headers: HeadersInit = {}) => {
		const request = new Request(`http://registry.test${path}`, { headers });
		const routeRequest = Object.assign(request, { parsed: new URL(request.url) }) as unknown as RouteRequest;
		return routeRead(routes, routeRequest, env, ctx).then(seen);
	};

	it("#25 gives a remembered route's answers, refusals and errors exactly as the router gives them", async () => {
		const routes = table();
		for (const [path, headers] of [
			["/pkg-a", {}],
			["/pkg-a", { "x-refuse": "1" }],
			["/throws", {}],
			["/fails-after", {}],
		] as const) {
			const first = await ask(routes, path, headers);
			const before = matchedRoutesState().repeats;
			expect(await ask(routes, path, headers)).toEqual(first);
			expect(matchedRoutesState().repeats).toBe(before + 1);
		}
		expect(await ask(routes, "/throws")).toMatchObject({ status: 500, body: "caught in handler" });
		expect(await ask(routes, "/pkg-a", { "x-refuse": "1" })).toMatchObject({ status: 503, body: "refused" });
	});

	it("#25 remembers only routes whose handler is declared with its policy", async () => {
		const routes = table();
		const before = matchedRoutesState().repeats;
		for (let i = 0; i < 2; i++) expect(await ask(routes, "/undeclared/x")).toMatchObject({ body: "undeclared" });
		expect(matchedRoutesState().repeats).toBe(before);
	});

	it("#25 keeps at most a few thousand paths: junk cannot fill the isolate's memory", async () => {
		const routes = table();
		for (let i = 0; i < 5_000; i++) await ask(routes, `/junk-${i}`);
		const { remembered } = matchedRoutesState();
		expect(remembered).toBeGreaterThan(0);
		expect(remembered).toBeLessThanOrEqual(4_096);
	});
});
