// Bounds on what one request may make the registry do, so that no input (however hostile) costs
// more than a fixed amount of work or storage. Each one is far above what real packages use.

export const LIMITS = {
	/** A version manifest as stored (npm's document for one version, JSON). */
	manifestBytes: 1024 * 1024,
	/**
	 * The JSON of a PUT /{name} apart from the tarball's base64 text, which streams to R2: the part
	 * held in memory (npm deprecate sends back the whole packument).
	 */
	documentBytes: 8 * 1024 * 1024,
	/** The package.json inside a tarball, held in memory to be read. */
	packageJsonBytes: 1024 * 1024,
	/** Nesting of any JSON document the registry reads (objects and arrays inside each other). */
	jsonDepth: 64,
	/** The README kept in the packument; the whole file stays in the tarball and under /files/. */
	readmeBytes: 256 * 1024,
	/** dist-tags in one publish. */
	tagsPerPublish: 16,
	/** Channels (dist-tags) of one package. */
	channelsPerPackage: 100,
	/** A version range in GET /{name}/{range}, and how many `||` alternatives it may have. */
	rangeLength: 256,
	rangeAlternatives: 16,
	/** Search: the text read, and how deep paging goes. */
	searchTextLength: 1_000,
	searchFrom: 10_000,
	/** npm token create --expires, in days. */
	tokenExpiryDays: 3_650,
	/** Free-text fields of audit rows, in characters. */
	auditTarget: 256,
	auditDetail: 4_096,
	/** Free-text fields sent to the search index, in characters. */
	searchDescription: 1_024,
	searchKeywords: 32,
	searchKeyword: 64,
	searchPerson: 256,
	searchLink: 2_048,
	searchReadme: 2_000,
	/**
	 * An upstream packument as fetched: its object parses and rewrites it in memory (128 MB in all),
	 * and answers it over RPC. The abbreviated form of even the largest public packages fits.
	 */
	upstreamDocumentBytes: 20 * 1024 * 1024,
	/**
	 * How much a tarball may inflate: past the first `inflationGraceBytes`, at most `inflationRatio`
	 * times the compressed bytes read so far. Source code compresses 3 to 20 times; a gzip bomb of
	 * zeros 200 to 1,000 times, so it is stopped after a few megabytes instead of at
	 * MAX_UNPACKED_SIZE (a 1 MB bomb would otherwise inflate to hundreds of MB, stored).
	 */
	inflationRatio: 100,
	inflationGraceBytes: 16 * 1024 * 1024,
	/** An upstream tarball sent without a Content-Length, which has to be held in memory before R2 takes it. */
	upstreamUnsizedTarballBytes: 32 * 1024 * 1024,
} as const;

/** How deeply a parsed JSON value nests, counted without recursion (a hostile document cannot overflow the stack). */
export function jsonDepth(value: unknown): number {
	let deepest = 0;
	const stack: [unknown, number][] = [[value, 1]];
	while (stack.length > 0) {
		const [item, depth] = stack.pop() as [unknown, number];
		if (typeof item !== "object" || item === null) continue;
		deepest = Math.max(deepest, depth);
		if (deepest > LIMITS.jsonDepth) return deepest;
		for (const child of Object.values(item)) stack.push([child, depth + 1]);
	}
	return deepest;
}
