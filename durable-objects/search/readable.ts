import type { Readable } from "../../schema/search/contract";

/** The SQL condition (on `p`, the packages table) for what the asker may read (null: everything), its parameters appended. */
export function readableFilter(readable: Readable, params: (string | number)[]): string | null {
	if (readable.all) return null;
	const allowed = ["p.access = 'public'"];
	for (const name of readable.packages) {
		allowed.push("p.name = ?");
		params.push(name);
	}
	for (const scope of readable.scopes) {
		allowed.push("p.scope = ?");
		params.push(scope);
	}
	return `(${allowed.join(" OR ")})`;
}
