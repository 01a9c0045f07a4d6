import { describe, expect, it } from "vitest";
import { errorStatus, type Result } from "../schema/errors";
import { normalizeScopedPath, parseChannelName, parsePackageName, parseVersion } from "../schema/names";

// Table-driven: exact input → result, as validate-npm-package-name's own tests are written.

/** A refusal as the client sees it: status and message; null when the input is accepted. */
const refusal = (result: Result<unknown>): string | null =>
	result.ok ? null : `${errorStatus[result.code]} ${result.message}`;
const accepted = <T>(result: Result<T>): T | null => (result.ok ? result.value : null);

describe("package names", () => {
	it.each([
		["lodash", { name: "lodash", scope: null, basename: "lodash" }],
		["@acc/widget", { name: "@acc/widget", scope: "@acc", basename: "widget" }],
		["@acc%2fwidget", { name: "@acc/widget", scope: "@acc", basename: "widget" }],
		["a.b-c_d", { name: "a.b-c_d", scope: null, basename: "a.b-c_d" }],
	])("accepts %s", (raw, expected) => {
		expect(accepted(parsePackageName(raw))).toEqual(expected);
	});

	it.each([
		["../x", /URL-friendly/],
		["Uppercase", /capital letters/],
		["a".repeat(215), /214 characters/],
		[".hidden", /period/],
		["_under", /underscore/],
		["-dash", /hyphen/],
		["node_modules", /not a valid package name/],
		["http", /core module/],
		["%E0%A4%A", /percent-encoding/],
		["@acc/.dot", /period/],
		["files", /reserved/],
		["packages", /reserved/],
	])("refuses %s", (raw, message) => {
		expect(refusal(parsePackageName(raw))).toMatch(message);
		expect(refusal(parsePackageName(raw))).toMatch(/^400 /);
	});

	it.each([
		["/@acc%2fwidget", "/@acc/widget"],
		["/@acc%2Fwidget/-/widget-1.0.0.tgz", "/@acc/widget/-/widget-1.0.0.tgz"],
		["/-/package/@acc%2fwidget/dist-tags", "/-/package/@acc/widget/dist-tags"],
		["/lodash%2fx", "/lodash%2fx"],
		["/@acc/widget", "/@acc/widget"],
	])("normalises %s", (path, expected) => {
		expect(normalizeScopedPath(path)).toBe(expected);
	});
});

describe("tags and versions", () => {
	it.each(["latest", "beta", "v2", "next-1.x", "canary_2024"])("accepts the tag %s", (tag) => {
		expect(accepted(parseChannelName(tag))).toBe(tag);
	});

	it.each(["1.0.0", "", "-dash", "has space", "a/b", "x".repeat(65)])("refuses the tag %j", (tag) => {
		expect(refusal(parseChannelName(tag))).toMatch(/^400 invalid tag name/);
	});

	it.each(["1.0.0", "0.0.0-upload.20260101.abc", "2.0.0-beta.1"])("accepts the version %s", (v) => {
		expect(accepted(parseVersion(v))).toBe(v);
	});

	// Build metadata is refused too: npm itself strips it before publishing.
	it.each(["1.0", "v1.0.0", "=1.0.0", " 1.0.0", "latest", "1.0.0+build.5"])("refuses the version %j", (v) => {
		expect(refusal(parseVersion(v))).toMatch(/^400 invalid version/);
	});
});
