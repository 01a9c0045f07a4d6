// The one error catalogue. Every refusal the registry makes has a stable `code`, an HTTP status
// and a user-safe message; the router turns an HttpError into npm's `{ "error": message }` body
// (npm prints `error`) plus the `code`. Durable Objects cannot throw these across RPC (custom
// classes arrive as plain Errors), so they return `Refusal` values that the Worker raises here.

export const errorStatus = {
	badRequest: 400,
	invalidName: 400,
	invalidVersion: 400,
	malformedJson: 400,
	unauthorized: 401,
	otpRequired: 401,
	forbidden: 403,
	versionExists: 403,
	notFound: 404,
	methodNotAllowed: 405,
	conflict: 409,
	revisionMismatch: 409,
	protectedVersion: 409,
	payloadTooLarge: 413,
	unprocessable: 422,
	integrityMismatch: 422,
	manifestMismatch: 422,
	badTarball: 422,
	tooManyRequests: 429,
	internal: 500,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/** A refusal returned by a Durable Object method, to be raised as an HttpError by the Worker. */
export type Refusal = { ok: false; code: ErrorCode; message: string };

export type Result<T> = ({ ok: true } & T) | Refusal;

export function refuse(code: ErrorCode, message: string): Refusal {
	return { ok: false, code, message };
}

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

	toResponse(extraHeaders: Record<string, string> = {}): Response {
		return Response.json(
			{ error: this.message, code: this.code },
			{ status: this.status, headers: { ...extraHeaders, ...this.headers } },
		);
	}
}

/** Raises a DO refusal in the Worker, or returns the successful value. */
export function unwrap<R extends { ok: true } | Refusal>(result: R): Extract<R, { ok: true }> {
	const value: { ok: true } | Refusal = result;
	if (!value.ok) throw new HttpError(value.code, value.message);
	return result as Extract<R, { ok: true }>;
}

export const notFound = (message = "not_found") => new HttpError("notFound", message);

export const unauthorized = (message = "authentication required") =>
	new HttpError("unauthorized", message, { "WWW-Authenticate": 'Bearer realm="registry"' });

export const forbidden = (message: string) => new HttpError("forbidden", message);

export const badRequest = (message: string) => new HttpError("badRequest", message);
