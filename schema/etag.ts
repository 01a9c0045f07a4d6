// Conditional requests, for the Worker and for objects that answer "not modified" without a body.

/** Whether an If-None-Match header names this entity tag (weak comparison, as for GET). */
export function etagMatches(ifNoneMatch: string | null, etag: string): boolean {
	if (ifNoneMatch === null) return false;
	const bare = etag.replace(/^W\//, "");
	return ifNoneMatch
		.split(",")
		.map((tag) => tag.trim().replace(/^W\//, ""))
		.some((tag) => tag === bare || tag === "*");
}
