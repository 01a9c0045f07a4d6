import { type ErrorCode, errorStatus, type Refusal, type Result } from "../schema/errors";

// The Worker's one error type. Handlers throw the catalogue's HttpErrors (worker/refusals.ts) or
// raise an object's Refusal with `unwrap`; the router turns every one into npm's
// `{ "error": message }` body (npm prints `error`) plus the stable `code`, with the status
// schema/errors.ts gives the code.

export class HttpError extends Error {
	readonly status: number;
	readonly code: ErrorCode;
	readonly headers: Record<string, string>;

	constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}) {
		super(message);
		this.code = code;
		this.status = errorStatus[code];
		this.headers = headers;
	}

	static from(refusal: Refusal): HttpError {
		return new HttpError(refusal.code, refusal.message);
	}

	/** The body, made once: a refusal thrown again and again (a kept 404) answers with the same text. */
	private body: string | undefined;

	toResponse(extraHeaders: Record<string, string> = {}): Response {
		this.body ??= JSON.stringify({ error: this.message, code: this.code });
		const plain = Object.keys(extraHeaders).length === 0 && Object.keys(this.headers).length === 0;
		// As Response.json answers (its content-type), with headers workerd copies natively when there are no others.
		const headers = plain ? JSON_ONLY : { "content-type": "application/json", ...extraHeaders, ...this.headers };
		return new Response(this.body, { status: this.status, headers });
	}
}

const JSON_ONLY = new Headers({ "content-type": "application/json" });

/** The value of a Result, or its refusal raised as an HttpError. */
export function unwrap<T>(result: Result<T>): T {
	if (!result.ok) throw HttpError.from(result);
	return result.value;
}
