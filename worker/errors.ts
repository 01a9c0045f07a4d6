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

	toResponse(extraHeaders: Record<string, string> = {}): Response {
		return Response.json(
			{ error: this.message, code: this.code },
			{ status: this.status, headers: { ...extraHeaders, ...this.headers } },
		);
	}
}

/** The value of a Result, or its refusal raised as an HttpError. */
export function unwrap<T>(result: Result<T>): T {
	if (!result.ok) throw HttpError.from(result);
	return result.value;
}
