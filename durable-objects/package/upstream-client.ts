import type { Config, Upstream } from "../../schema/config";
import type { Refusal } from "../../schema/errors";
import { LIMITS } from "../../schema/limits";
import { refusals } from "../../schema/refusals";
import { ABBREVIATED_ACCEPT } from "../../schema/upstream";
import type { UpstreamForm } from "./upstream-documents";

// The package object's requests to the upstream registries: a name's packument (asking each
// upstream in order until one has it), and one tarball. Every request is bounded in time and size,
// and a token goes to its own upstream's origin only.

export type DocumentAnswer =
	| { kind: "found"; upstream: Upstream; text: string; etag: string | null; lastModified: string | null }
	| { kind: "notModified"; upstream: Upstream }
	| { kind: "notFound"; upstream: Upstream };

/** A failed request: which upstream failed (for the figures), and the refusal to answer with. */
export type UpstreamFailure = { ok: false; upstream: Upstream; refusal: Refusal };

/**
 * Asks the upstreams in order for a packument. A 404 moves on to the next one; any other failure
 * stops the walk: a later upstream must never answer for a name an earlier one may have (that is
 * the dependency confusion this registry exists to prevent). `conditional` revalidates the copy
 * one upstream sent before.
 */
export async function fetchUpstreamDocument(
	config: Config,
	name: string,
	form: UpstreamForm,
	conditional: { upstream: string; etag: string } | null,
): Promise<{ ok: true; value: DocumentAnswer } | UpstreamFailure> {
	let last: Upstream | undefined;
	for (const upstream of config.upstreams) {
		last = upstream;
		const what = `packument of ${name} from ${upstream.url}`;
		const headers = new Headers({ accept: form === "abbreviated" ? ABBREVIATED_ACCEPT : "application/json" });
		if (upstream.token) headers.set("authorization", `Bearer ${upstream.token}`);
		const revalidating = conditional?.upstream === upstream.url;
		if (revalidating) headers.set("if-none-match", conditional.etag);
		try {
			const signal = AbortSignal.timeout(config.upstreamTimeoutMs);
			const response = await fetch(`${upstream.url}/${pathOf(name)}`, { headers, signal, redirect: "manual" });
			if (response.status === 404) {
				await response.body?.cancel();
				continue;
			}
			if (response.status === 304 && revalidating) return { ok: true, value: { kind: "notModified", upstream } };
			if (response.status !== 200) {
				await response.body?.cancel();
				return { ok: false, upstream, refusal: refusals.upstreamFailed(what, `HTTP ${response.status}`) };
			}
			const text = await boundedText(response, LIMITS.upstreamDocumentBytes);
			if (text === null) {
				return {
					ok: false,
					upstream,
					refusal: refusals.upstreamFailed(what, `larger than ${LIMITS.upstreamDocumentBytes} bytes`),
				};
			}
			return {
				ok: true,
				value: {
					kind: "found",
					upstream,
					text,
					etag: response.headers.get("etag"),
					lastModified: response.headers.get("last-modified"),
				},
			};
		} catch (error) {
			return { ok: false, upstream, refusal: failure(config, what, error) };
		}
	}
	if (!last) throw new Error("no upstream is configured");
	return { ok: true, value: { kind: "notFound", upstream: last } };
}

/**
 * Asks `upstream` for a tarball at `url` (on its origin). Only the wait for the answer to begin
 * is bounded: the body streams for as long as it takes.
 */
export async function fetchUpstreamTarball(
	config: Config,
	upstream: Upstream,
	url: string,
	what: string,
): Promise<{ ok: true; value: Response & { body: ReadableStream<Uint8Array> } } | UpstreamFailure> {
	const headers = new Headers({ accept: "application/octet-stream" });
	if (upstream.token) headers.set("authorization", `Bearer ${upstream.token}`);
	const controller = new AbortController();
	const timer = setTimeout(
		() => controller.abort(new DOMException("upstream timed out", "TimeoutError")),
		config.upstreamTimeoutMs,
	);
	try {
		const response = await fetch(url, { headers, signal: controller.signal, redirect: "manual" });
		if (response.status === 200 && response.body) {
			return { ok: true, value: response as Response & { body: ReadableStream<Uint8Array> } };
		}
		await response.body?.cancel();
		const refusal =
			response.status === 404
				? refusals.upstreamNotFound(what)
				: refusals.upstreamFailed(what, `HTTP ${response.status}`);
		return { ok: false, upstream, refusal };
	} catch (error) {
		return { ok: false, upstream, refusal: failure(config, what, error) };
	} finally {
		clearTimeout(timer);
	}
}

/** `@scope/name` as npm spells it in a URL path (`@scope%2fname`). */
function pathOf(name: string): string {
	return name.startsWith("@") ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name);
}

function failure(config: Config, what: string, error: unknown): Refusal {
	if (error instanceof Error && error.name === "TimeoutError") {
		return refusals.upstreamTimeout(what, config.upstreamTimeoutMs / 1000);
	}
	return refusals.upstreamFailed(what, error instanceof Error ? error.message : String(error));
}

/** The body as text, or null once it grows past `limit` bytes (read no further). */
async function boundedText(response: Response, limit: number): Promise<string | null> {
	const declared = Number(response.headers.get("content-length") ?? "NaN");
	if (declared > limit || !response.body) {
		await response.body?.cancel();
		return declared > limit ? null : "";
	}
	const decoder = new TextDecoder();
	let text = "";
	let total = 0;
	for await (const chunk of response.body) {
		total += chunk.byteLength;
		if (total > limit) return null;
		text += decoder.decode(chunk, { stream: true });
	}
	return text + decoder.decode();
}
