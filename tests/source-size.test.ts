import { describe, expect, it } from "vitest";

// No source file of the registry grows past 600 lines (#23.4): a file that does holds more than one
// concern, and a newcomer has to read all of it to find one. Read as text through Vite's glob.

const MAX_LINES = 600;

const sources = import.meta.glob(["../worker/**/*.ts", "../durable-objects/**/*.ts", "../schema/**/*.ts"], {
	query: "?raw",
	import: "default",
	eager: true,
}) as Record<string, string>;

describe("source files (#23.4)", () => {
	it(`are at most ${MAX_LINES} lines each in worker/, durable-objects/ and schema/`, () => {
		expect(Object.keys(sources).length).toBeGreaterThan(50);
		const over = Object.entries(sources)
			.map(([file, text]) => ({ file: file.replace("../", ""), lines: text.split("\n").length - 1 }))
			.filter((f) => f.lines > MAX_LINES);
		expect(over).toEqual([]);
	});
});
