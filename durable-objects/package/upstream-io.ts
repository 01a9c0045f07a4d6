// Small helpers of the upstream mirror (upstream.ts) for what crosses the network: lengths,
// origins to name in messages, and a wait bounded in time.

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
