import { PART_BYTES, partBudgetExhausted } from "../../durable-objects/blob-writer";
import { refused } from "../refusals";
import { BodyReader } from "./body-reader";

// How many large publishes (and uploads) one isolate takes at once (#22.4). Each holds up to two
// 5 MiB parts (its tarball's R2 upload and its file bundle's), besides what streams through it and
// the garbage it leaves for the collector. Six parallel 15 MB publishes (the bench's section 7b)
// peaked at 125-145 MB of the isolate's 128 with no limit, 102-127 MB with four at once, 78-93 MB
// with four at once and the buffers reused (blob-writer.ts, body-reader.ts), and 74-80 MB with
// three. One past the limit is answered 503 with Retry-After before its body is read: npm tries
// again, and the isolate never holds more than LARGE_PUBLISHES × two parts. A body small enough to
// fit in one part is always taken. The refused body is read and dropped before the answer
// (`drain`): a client still sending when the answer comes may see its connection closed instead
// of the 503 it could retry on.

export const LARGE_PUBLISHES = 3;

let running = 0;

/** Large publishes under way in this isolate (for tests). */
export function largePublishesRunning(): number {
	return running;
}

/** Admits the request's publish (or refuses it, 503); answers the function that ends its turn. */
export function admitPublish(request: Request): () => void {
	const declared = Number(request.headers.get("content-length") ?? Number.NaN);
	if (Number.isFinite(declared) && declared <= PART_BYTES) return () => {};
	if (running >= LARGE_PUBLISHES || partBudgetExhausted()) {
		throw refused.tooManyLargePublishes(5);
	}
	running += 1;
	let ended = false;
	return () => {
		if (ended) return;
		ended = true;
		running -= 1;
	};
}

/** Reads the request's body and drops it, up to `limit` bytes (then stops reading): holds nothing. */
export async function drain(request: Request, limit: number): Promise<void> {
	if (!request.body) return;
	const reader = new BodyReader(request.body);
	let read = 0;
	try {
		while (read <= limit) {
			const next = await reader.read();
			if (next === null) return;
			read += next.byteLength;
		}
		await reader.cancel();
	} catch {
		// A client gone while it was refused: nothing left to answer.
	}
}
