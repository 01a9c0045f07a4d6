// String.replace and replaceAll read `$&`, `$'`, `` $` `` and `$1` in a replacement string as
// patterns: text that comes from anyone (a token's name, a base URL, a package name) goes in
// through a replacer function, which is taken as it is.

/** A replacement that String.replace and replaceAll insert literally. */
export function literal(text: string): () => string {
	return () => text;
}
