// The refusal codes: every refusal the registry makes has a stable `code` and the HTTP status it
// is answered with. The Worker raises refusals as HttpErrors (worker/errors.ts), whose body is
// npm's `{ "error": message }` plus the code. Durable Objects cannot throw custom errors across
// RPC (they arrive as plain Errors), so every method that can fail returns a `Result`.

export const errorStatus = {
	badRequest: 400,
	invalidName: 400,
	invalidVersion: 400,
	malformedJson: 400,
	unauthorized: 401,
	otpRequired: 401,
	forbidden: 403,
	versionExists: 403,
	upstreamReadOnly: 403,
	notFound: 404,
	methodNotAllowed: 405,
	conflict: 409,
	revisionMismatch: 409,
	protectedVersion: 409,
	upstreamName: 409,
	payloadTooLarge: 413,
	unprocessable: 422,
	integrityMismatch: 422,
	manifestMismatch: 422,
	badTarball: 422,
	tooManyRequests: 429,
	internal: 500,
	upstreamFailed: 502,
	upstreamIntegrity: 502,
	unavailable: 503,
	upstreamUnavailable: 503,
	upstreamTimeout: 504,
} as const;

export type ErrorCode = keyof typeof errorStatus;

/** Why something was refused: a stable code and a message safe to show the client. */
export type Refusal = {
	ok: false;
	code: ErrorCode;
	message: string;
	/**
	 * Set on refusals of reads of a package that exists: whether the caller may hear this refusal
	 * depends on whether it may read the package (otherwise it is the same 404 as a missing one).
	 */
	access?: "public" | "restricted";
};

/** The one result shape of every operation that can fail. */
export type Result<T> = { ok: true; value: T } | Refusal;

export function ok<T>(value: T): { ok: true; value: T } {
	return { ok: true, value };
}

export function refuse(code: ErrorCode, message: string): Refusal {
	return { ok: false, code, message };
}
