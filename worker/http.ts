import * as v from "valibot";
import { readAtMost } from "../schema/bytes";
import { config } from "../schema/config";
import { etagMatches } from "../schema/etag";
import { sha256Hex } from "../schema/hashing";
import { jsonDepth, LIMITS } from "../schema/limits";
import { refused } from "./refusals";

// Request parsing shared by every API surface: size-limited bodies, JSON that fails as a 400
// (never a 500), valibot validation whose first issue becomes the error message.

export type RouteRequest = Request & {
	params: Record<string, string | undefined>;
	query: Record<string, string | string[] | undefined>;
	/** Set for HEAD requests, which are routed as GETs and answered without a body. */
	head?: boolean;
	/** The request's URL, parsed once by the router. */
	parsed?: URL;
	/**
	 * The client's If-None-Match, where the read tier asks the object without it (guards.ts): the
	 * tier answers it from what it keeps, an answer too large to keep may be answered by the object.
	 */
	heldBackIfNoneMatch?: string;
};

/** The request's URL, parsed once per request (by the router) rather than by every step. */
export function urlOf(request: Request): URL {
	return (request as { parsed?: URL }).parsed ?? new URL(request.url);
}

/** Reads the body as bytes, refusing (413) anything over `limit` before or while it streams in. */
export async function readBodyBytes(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
	assertDeclaredSize(request, limit);
	if (!request.body) return new Uint8Array();
	return readAtMost(request.body, limit, () => tooLarge(limit));
}

export const tooLarge = refused.bodyTooLarge;

/** Refuses (413) a body whose Content-Length says it is over the limit, before reading any of it. */
export function assertDeclaredSize(request: Request, limit: number, refusal = tooLarge): void {
	const declared = Number(request.headers.get("content-length") ?? "NaN");
	if (declared > limit) throw refusal(limit);
}

/**
 * The body as a stream that fails with a 413 as soon as more than `limit` bytes have come, reading
 * no further; `crossed()` tells a consumer further down whether that is why its stream failed.
 */
export function limitedBody(request: Request, limit: number): { body: ReadableStream<Uint8Array>; crossed(): boolean } {
	assertDeclaredSize(request, limit);
	let total = 0;
	let over = false;
	const limiter = new TransformStream<Uint8Array, Uint8Array>({
		transform(chunk, controller) {
			total += chunk.byteLength;
			if (total > limit) {
				over = true;
				controller.error(tooLarge(limit));
				return;
			}
			controller.enqueue(chunk);
		},
	});
	const body = (request.body ?? new Blob([]).stream()).pipeThrough(limiter);
	return { body, crossed: () => over };
}

export const malformedJson = refused.malformedJson;

// Nothing the registry reads nests deeply; a document that does could overflow a recursive walk.
export const tooDeep = refused.tooDeep;

/** Reads a JSON body (unvalidated); malformed JSON is a 400, never a 500. */
export async function readJsonBody(request: Request, limit = 1024 * 1024): Promise<unknown> {
	return parseJson(new TextDecoder().decode(await readBodyBytes(request, limit)));
}

function parseJson(text: string): unknown {
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		throw malformedJson();
	}
	if (jsonDepth(value) > LIMITS.jsonDepth) throw tooDeep();
	return value;
}

/** Parses a JSON body and validates it; both failures are 400s with a message naming the problem. */
export async function readJson<S extends v.GenericSchema>(
	request: Request,
	schema: S,
	limit = 1024 * 1024,
): Promise<v.InferOutput<S>> {
	return validate(schema, await readJsonBody(request, limit));
}

export function validate<S extends v.GenericSchema>(schema: S, data: unknown): v.InferOutput<S> {
	const result = v.safeParse(schema, data);
	if (result.success) return result.output;
	const issue = result.issues[0];
	const path = issue.path?.map((p) => String(p.key)).join(".");
	throw refused.invalidBody(path, issue.message);
}

/** The registry's public base URL (no trailing slash): PUBLIC_URL when set, else the request's origin. */
export function publicBaseUrl(request: Request, env: Env): string {
	return config(env).publicUrl ?? urlOf(request).origin;
}

export function json(body: unknown, init: ResponseInit = {}): Response {
	return new Response(JSON.stringify(body), {
		...init,
		headers: { "content-type": "application/json; charset=utf-8", ...init.headers },
	});
}

/** A path parameter, percent-decoded; bad encodings are the client's mistake (400). */
export function decodeParam(raw: string | undefined): string {
	try {
		return decodeURIComponent(raw ?? "");
	} catch {
		throw refused.malformedPath();
	}
}

export function queryFlag(request: RouteRequest, name: string): boolean {
	const value = request.query[name];
	return value === "true" || value === "1";
}

/** A JSON answer with an ETag (for a route whose cache policy is `revalidate`): an unchanged one costs a 304. */
export async function revalidatedJson(request: Request, body: unknown): Promise<Response> {
	const text = JSON.stringify(body);
	const etag = `"${(await sha256Hex(text)).slice(0, 32)}"`;
	const headers = { etag, vary: "authorization" };
	if (etagMatches(request.headers.get("if-none-match"), etag)) return new Response(null, { status: 304, headers });
	return new Response(text, { headers: { ...headers, "content-type": "application/json; charset=utf-8" } });
}

/** Parses an optional JSON body: an empty body is `{}`. */
export async function readOptionalJson<S extends v.GenericSchema>(
	request: Request,
	schema: S,
): Promise<v.InferOutput<S>> {
	const text = new TextDecoder().decode(await readBodyBytes(request, 64 * 1024));
	return validate(schema, text.trim() === "" ? {} : parseJson(text));
}
