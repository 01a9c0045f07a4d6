import { describe, expect, it } from "vitest";
import { HttpError } from "../worker/errors";
import { refused } from "../worker/refusals";

// Every refusal the Worker raises comes from a catalogue (#23.2): schema/refusals.ts for the
// conditions the objects share, worker/refusals.ts for those only HTTP has. This reads the source
// text of worker/ and durable-objects/ and fails on a refusal written anywhere else: an
// `new HttpError(…)`, a literal message handed to one of the old helpers, or `refuse(…)` called
// outside schema/refusals.ts.

const sources = import.meta.glob(["../worker/**/*.ts", "../durable-objects/**/*.ts"], {
	query: "?raw",
	import: "default",
	eager: true,
}) as Record<string, string>;

/** The catalogue itself, and the error type it builds on. */
const CATALOGUE = new Set(["../worker/refusals.ts", "../worker/errors.ts"]);

const RULES: { rule: string; pattern: RegExp }[] = [
	{ rule: "an HttpError made outside the catalogue", pattern: /new HttpError\s*\(/g },
	{
		rule: "a literal message handed to an error helper",
		pattern: /\b(?:notFound|badRequest|forbidden|unauthorized|unprocessable|otpRequired|badTarball)\s*\(\s*["'`]/g,
	},
	{ rule: "refuse() called outside schema/refusals.ts", pattern: /\brefuse\s*\(/g },
];

/** Each offence as `file:line: rule: the line`, for a failure that says where to look. */
function offences(files: Record<string, string>): string[] {
	const found: string[] = [];
	for (const [file, text] of Object.entries(files)) {
		if (CATALOGUE.has(file)) continue;
		const lines = text.split("\n");
		for (const { rule, pattern } of RULES) {
			for (const match of text.matchAll(pattern)) {
				const line = text.slice(0, match.index).split("\n").length;
				found.push(`${file.replace("../", "")}:${line}: ${rule}: ${lines[line - 1]?.trim()}`);
			}
		}
	}
	return found;
}

describe("the refusal catalogue", () => {
	it("is the only place a refusal of the Worker or an object is worded (#23.2)", () => {
		expect(Object.keys(sources).length).toBeGreaterThan(100);
		expect(offences(sources)).toEqual([]);
	});

	it("catches a refusal worded inline, so the scan above can fail (#23.2)", () => {
		const planted = {
			"../worker/planted.ts": [
				'throw badRequest("nope");',
				'throw new HttpError("forbidden", "no");',
				"return refuse(`notFound`, `gone`);",
				"throw refused.hidden();",
			].join("\n"),
		};
		expect(offences(planted)).toHaveLength(3);
	});

	it("names deliberate vagueness: a hidden package is the same bare 404 as a missing one (#23.2)", () => {
		const hidden = refused.hidden();
		expect(hidden).toBeInstanceOf(HttpError);
		expect({ status: hidden.status, code: hidden.code, message: hidden.message }).toEqual({
			status: 404,
			code: "notFound",
			message: "not_found",
		});
	});

	it("words a missing user as the objects do, whichever route notices it (#23.2)", () => {
		expect(refused.userNotFound("ghost").message).toBe("user ghost does not exist");
		expect(refused.staleRevision("3-abc").message).toBe("document update conflict: _rev 3-abc is not current");
	});
});
