import { createServer, type Server } from "node:http";
import { signJwt } from "../helpers/jwt.ts";

// A stand-in OpenID Connect issuer for trusted publishing (#19), as a plain fetch handler so the
// integration tests can put it on workerd's network (vitest.config.ts, project "trust") and the
// end-to-end tests can serve it from a small Node HTTP server on a loopback port. Per provider
// path (`/github`, `/gitlab`) it serves the discovery document and the JWKS, takes more keys
// (POST /-/keys, a public JWK: the tests generate and rotate keys), counts JWKS fetches, and, as
// GitHub's ACTIONS_ID_TOKEN_REQUEST_URL does, mints ID tokens for an audience with claims the test set
// (POST /-/claims) and its own key.

type Jwk = JsonWebKey & { kid?: string };

export const REQUEST_TOKEN = "actions-id-token-request-token";

export class Issuer {
	private readonly keys = new Map<string, Jwk[]>();
	private readonly claims = new Map<string, Record<string, unknown>>();
	private readonly fetches = new Map<string, number>();
	private signer: { key: CryptoKey; kid: string } | null = null;

	/** The issuer's own key (for tokens it mints), published under every provider path. */
	private async ownKey(): Promise<{ key: CryptoKey; kid: string; publicJwk: Jwk }> {
		if (this.signer === null) {
			const pair = (await crypto.subtle.generateKey(
				{ name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
				true,
				["sign", "verify"],
			)) as CryptoKeyPair;
			this.signer = { key: pair.privateKey, kid: "issuer-own-key" };
			this.own = { ...((await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey), kid: "issuer-own-key" };
		}
		return { ...this.signer, publicJwk: this.own as Jwk };
	}
	private own: Jwk | null = null;

	readonly fetch = async (request: Request): Promise<Response> => {
		const url = new URL(request.url);
		const [, provider = "", ...rest] = url.pathname.split("/");
		const path = `/${rest.join("/")}`;
		const base = `${url.origin}/${provider}`;
		if (path === "/.well-known/openid-configuration") {
			return Response.json({ issuer: base, jwks_uri: `${base}/jwks` });
		}
		if (path === "/jwks") {
			this.fetches.set(provider, (this.fetches.get(provider) ?? 0) + 1);
			const { publicJwk } = await this.ownKey();
			return Response.json({ keys: [publicJwk, ...(this.keys.get(provider) ?? [])] });
		}
		if (path === "/-/keys" && request.method === "POST") {
			const jwk = (await request.json()) as Jwk;
			this.keys.set(provider, [...(this.keys.get(provider) ?? []), jwk]);
			return new Response(null, { status: 204 });
		}
		if (path === "/-/fetches") return Response.json({ fetches: this.fetches.get(provider) ?? 0 });
		if (path === "/-/claims" && request.method === "POST") {
			this.claims.set(provider, (await request.json()) as Record<string, unknown>);
			return new Response(null, { status: 204 });
		}
		if (path === "/token") {
			if (request.headers.get("authorization") !== `Bearer ${REQUEST_TOKEN}`)
				return new Response(null, { status: 401 });
			const audience = url.searchParams.get("audience") ?? "";
			return Response.json({ value: await this.mint(base, audience, this.claims.get(provider) ?? {}) });
		}
		return new Response("not found", { status: 404 });
	};

	/** An ID token of `issuer` for `audience`, signed with the issuer's own key. */
	async mint(issuer: string, audience: string, claims: Record<string, unknown>): Promise<string> {
		const { key, kid } = await this.ownKey();
		const now = Math.floor(Date.now() / 1000);
		return signJwt(key, kid, {
			iss: issuer,
			aud: audience,
			iat: now,
			nbf: now,
			exp: now + 300,
			jti: crypto.randomUUID(),
			...claims,
		});
	}
}

/** Serves an issuer on a free loopback port (end-to-end tests). */
export async function startIssuer(): Promise<{ issuer: Issuer; url: string; server: Server }> {
	const issuer = new Issuer();
	const server = createServer(async (req, res) => {
		const chunks: Buffer[] = [];
		for await (const chunk of req) chunks.push(chunk as Buffer);
		const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
		const request = new Request(`http://127.0.0.1${req.url ?? "/"}`, {
			method: req.method ?? "GET",
			headers: Object.entries(req.headers).flatMap(([name, value]) =>
				typeof value === "string" ? [[name, value] as [string, string]] : [],
			),
			...(body && req.method !== "GET" ? { body } : {}),
		});
		const port = (server.address() as { port: number }).port;
		const routed = new Request(request.url.replace("http://127.0.0.1", `http://127.0.0.1:${port}`), request);
		const response = await issuer.fetch(routed);
		res.writeHead(response.status, Object.fromEntries(response.headers));
		res.end(Buffer.from(await response.arrayBuffer()));
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as { port: number };
	return { issuer, url: `http://127.0.0.1:${port}`, server };
}
