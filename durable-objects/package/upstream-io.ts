// Small helpers of the upstream mirror (upstream.ts) for what crosses the network: lengths,
// origins to name in messages, a client's copy of the bytes that ends early instead of erroring,
// and a wait bounded in time.

export function contentLength(headers: Headers): number | null {
	const raw = headers.get("content-length");
	if (raw === null || !/^\d+$/.test(raw)) return null;
	return Number(raw);
}

export function originOf(url: string): string {
	try {
		return new URL(url).origin;
	} catch {
		return "an invalid URL";
	}
}

/**
 * The client's copy of the bytes, ending early where they fail instead of failing: a stream that
 * errors on its way over RPC is logged by the runtime as an uncaught exception on both sides
 * (#22.13). The Worker tells a short body from a whole one by its length, or by its own check of
 * the digest when upstream sent none (worker/upstream/tarballs.ts).
 */
export function endingEarly(stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
	const reader = stream.getReader();
	return new ReadableStream<Uint8Array>({
		async pull(controller) {
			try {
				const next = await reader.read();
				if (next.done) controller.close();
				else controller.enqueue(next.value);
			} catch {
				// Why it failed is the mirror's to log; the Worker sees a body cut short.
				controller.close();
			}
		},
		cancel(reason) {
			return reader.cancel(reason);
		},
	});
}

/** The promise's result, or `late()` when it has not settled within `ms`. */
export async function settledWithin<T>(promise: Promise<T>, ms: number, late: () => T): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const deadline = new Promise<T>((resolve) => {
		timer = setTimeout(() => resolve(late()), ms);
	});
	try {
		return await Promise.race([promise, deadline]);
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
}
