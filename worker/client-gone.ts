import { refused } from "./refusals";

// A client that goes away mid-request (its connection closes while the Worker still reads its
// body, as a publish interrupted with Ctrl-C does) is not an error of the registry: nothing is
// logged as one, and the answer, which nobody receives, is a client error, not a 500 (#22.13).
// What the request had begun is undone as for any other refusal (worker/publishing/attempt.ts).

/** The runtime's error for a request body whose connection closed before its end. */
const CONNECTION_LOST = /^Network connection lost\.?$/;

/** Whether `error` (or what caused it) is the client's connection closing under the request. */
export function clientWentAway(error: unknown): boolean {
	let cause: unknown = error;
	for (let depth = 0; cause instanceof Error && depth < 8; depth++) {
		if (CONNECTION_LOST.test(cause.message)) return true;
		cause = cause.cause;
	}
	return false;
}

export const clientGone = () => refused.clientGone();
