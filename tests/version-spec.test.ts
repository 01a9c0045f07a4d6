import { describe, expect, it } from "vitest";
import { resolveVersionSpec, type VersionSet } from "../durable-objects/package/version-spec";
import { LIMITS } from "../schema/limits";

// GET /{name}/{spec} names a version by number, tag or range, for local packages and upstream
// copies alike, through one resolver with one range limit (#23.4).

function set(versions: string[], tags: Record<string, string>): VersionSet {
	return {
		has: (version) => versions.includes(version),
		tagged: (tag) => (Object.hasOwn(tags, tag) ? (tags[tag] ?? null) : null),
		numbers: () => versions,
	};
}

const versions = set(["1.0.0", "1.2.0", "2.0.0-beta.1", "2.0.0"], {
	latest: "1.2.0",
	next: "2.0.0-beta.1",
	gone: "0.9.0",
});

describe("resolveVersionSpec (#23.4)", () => {
	it.each([
		["an exact version", "2.0.0", "2.0.0"],
		["a tag", "latest", "1.2.0"],
		["a tag at a pre-release", "next", "2.0.0-beta.1"],
		["a range, its highest match", "^1.0.0", "1.2.0"],
		["a range with alternatives", "~1.0.0 || >=2", "2.0.0"],
		["*", "*", "2.0.0"],
	])("resolves %s", (_what, spec, expected) => {
		expect(resolveVersionSpec(spec, versions)).toEqual({ ok: true, value: expected });
	});

	it.each([
		["a version not published", "3.0.0"],
		["a range nothing matches", "^5.0.0"],
		["a tag at a version that is gone", "gone"],
		["text that is neither", "constructor"],
	])("answers versionNotFound for %s", (_what, spec) => {
		expect(resolveVersionSpec(spec, versions)).toMatchObject({ ok: false, code: "notFound" });
	});

	it.each([
		["longer than the limit", `>=1.0.0 ${" ".repeat(LIMITS.rangeLength)}`],
		[
			"with more alternatives than the limit",
			Array(LIMITS.rangeAlternatives + 1)
				.fill("1.0.0")
				.join(" || "),
		],
	])("refuses a range %s before matching it", (_what, spec) => {
		let matched = false;
		const watched: VersionSet = {
			...versions,
			has: () => {
				matched = true;
				return true;
			},
		};
		expect(resolveVersionSpec(spec, watched)).toMatchObject({ ok: false, code: "badRequest" });
		expect(matched).toBe(false);
	});

	it("takes a range at the limit", () => {
		const spec = Array(LIMITS.rangeAlternatives).fill("1.0.0").join(" || ");
		expect(resolveVersionSpec(spec, versions)).toEqual({ ok: true, value: "1.0.0" });
	});
});
