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

/** An upstream tarball's answer: its body errors (a TimeoutError) once it stalls or takes too long. */
export type TarballAnswer = { headers: Headers; body: ReadableStream<Uint8Array> };

/**
 * Asks `upstream` for a tarball at `url` (on its origin). The answer must begin within
 * UPSTREAM_TIMEOUT_SECONDS; its body must then go on arriving (no pause that long) and be whole
 * within UPSTREAM_DOWNLOAD_SECONDS, or it fails: a slow upstream cannot hold the clients waiting.
 */
export async function fetchUpstreamTarball(
	config: Config,
	upstream: Upstream,
	url: string,
	what: string,
): Promise<{ ok: true; value: TarballAnswer } | UpstreamFailure> {
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
			const body = boundedBody(response.body, config.upstreamTimeoutMs, config.upstreamDownloadMs);
			return { ok: true, value: { headers: response.headers, body } };
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
		if (timer !== undefined) clearTimeout(timer);
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

/**
 * The body, failing with a TimeoutError when no byte comes for `idleMs` or the whole has not come
 * within `totalMs`. Only time spent waiting on upstream counts as a pause: a reader that is slow
 * to ask for more (backpressure) is not upstream's fault.
 */
export function boundedBody(
	body: ReadableStream<Uint8Array>,
	idleMs: number,
	totalMs: number,
): ReadableStream<Uint8Array> {
	const reader = body.getReader();
	const deadline = Date.now() + totalMs;
	return new ReadableStream<Uint8Array>({
		async pull(controller) {
			const left = deadline - Date.now();
			const stalled = idleMs < left;
			let timer: ReturnType<typeof setTimeout> | undefined;
			const timeout = new Promise<never>((_, reject) => {
				timer = setTimeout(
					() =>
						reject(
							new DOMException(
								stalled ? `no byte within ${idleMs / 1000} s` : `not received in full within ${totalMs / 1000} s`,
								"TimeoutError",
							),
						),
					Math.max(0, Math.min(idleMs, left)),
				);
			});
			try {
				const next = await Promise.race([reader.read(), timeout]);
				if (next.done) controller.close();
				else controller.enqueue(next.value);
			} catch (error) {
				controller.error(error);
				// Upstream's connection goes too; its own failure to close is no news.
				reader.cancel(error).catch(() => {});
			} finally {
				if (timer !== undefined) clearTimeout(timer);
			}
		},
		cancel(reason) {
			return reader.cancel(reason);
		},
	});
}
