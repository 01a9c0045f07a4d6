// One POST of a JSON body to a webhook (package hooks, alert notices): the endpoint's status, or
// null when it did not answer within the timeout. The timer is cleared as soon as the attempt
// ends, so a delivery keeps its object busy no longer than the attempt itself.

export type Send = (url: string, init: RequestInit) => Promise<Response>;

export const DELIVERY_TIMEOUT_MS = 10_000;

export async function postJson(
	send: Send,
	url: string,
	body: string,
	headers: Record<string, string>,
	timeoutMs = DELIVERY_TIMEOUT_MS,
): Promise<number | null> {
	const abort = new AbortController();
	const timer = setTimeout(() => abort.abort(), timeoutMs);
	try {
		const response = await send(url, {
			method: "POST",
			headers: { "content-type": "application/json", ...headers },
			body,
			redirect: "manual",
			signal: abort.signal,
		});
		await response.body?.cancel();
		return response.status;
	} catch {
		return null;
	} finally {
		clearTimeout(timer);
	}
}
