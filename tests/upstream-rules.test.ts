import { describe, expect, it } from "vitest";
import {
	ANSWERED_FROM_MEMORY_BYTES,
	holdForAnswer,
	MEMORY_ANSWER_BUDGET_BYTES,
} from "../durable-objects/package/upstream-integrity";
import { rewriteUpstreamPackument } from "../durable-objects/package/upstream-packument";
import { parseConfig } from "../schema/config";
import { checkedIntegrity, digestAccepted, expectedDigest, upstreamMayServe, upstreamOfUrl } from "../schema/upstream";

// The upstream's rules as pure functions, input → result: configuration, which names may come
// from upstream and from which hosts, what bytes must hash to, and how a packument is rewritten.

const bytes = new TextEncoder().encode("tarball bytes");
const digestOf = async (algorithm: string) => new Uint8Array(await crypto.subtle.digest(algorithm, bytes));

describe("upstream configuration", () => {
	it("is off without UPSTREAM_URL, and lists upstreams in order with their tokens", () => {
		expect(parseConfig({}).upstreams).toEqual([]);
		const config = parseConfig({
			UPSTREAM_URL: " https://registry.npmjs.org/ , http://mirror.internal:8080/npm/ ftp://nope not-a-url",
			UPSTREAM_TOKEN: ", secret-2 ",
			OWNED_SCOPES: "@Acc, internal",
		});
		expect(config.upstreams).toEqual([
			{ url: "https://registry.npmjs.org", origin: "https://registry.npmjs.org", token: null },
			{ url: "http://mirror.internal:8080/npm", origin: "http://mirror.internal:8080", token: "secret-2" },
		]);
		expect(config.ownedScopes).toEqual(["@acc", "@internal"]);
		expect(config).toMatchObject({
			upstreamTimeoutMs: 10_000,
			upstreamMaxAgeMs: 120_000,
			upstreamStaleIfErrorMs: 86_400_000,
			upstreamNotFoundMs: 30_000,
			publishWhenUpstreamDown: false,
		});
		expect(parseConfig({ UPSTREAM_TIMEOUT_SECONDS: "0", UPSTREAM_MAX_AGE_SECONDS: "0" })).toMatchObject({
			upstreamTimeoutMs: 10_000,
			upstreamMaxAgeMs: 0,
		});
	});

	it("lets a name come from upstream unless no upstream is set or its scope is owned", () => {
		const config = parseConfig({ UPSTREAM_URL: "https://registry.npmjs.org", OWNED_SCOPES: "@acc" });
		expect(upstreamMayServe(config, null)).toBe(true);
		expect(upstreamMayServe(config, "@types")).toBe(true);
		expect(upstreamMayServe(config, "@acc")).toBe(false);
		expect(upstreamMayServe(config, "@ACC")).toBe(false);
		expect(upstreamMayServe(parseConfig({ OWNED_SCOPES: "@acc" }), null)).toBe(false);
	});

	it("fetches tarballs only from the origins of configured upstreams", () => {
		const config = parseConfig({ UPSTREAM_URL: "https://registry.npmjs.org http://mirror.internal:8080/npm" });
		expect(upstreamOfUrl(config, "https://registry.npmjs.org/a/-/a-1.0.0.tgz")?.url).toBe("https://registry.npmjs.org");
		expect(upstreamOfUrl(config, "http://mirror.internal:8080/elsewhere/a.tgz")?.url).toBe(
			"http://mirror.internal:8080/npm",
		);
		expect(upstreamOfUrl(config, "http://registry.npmjs.org/a/-/a-1.0.0.tgz")).toBeNull();
		expect(upstreamOfUrl(config, "https://evil.example/a/-/a-1.0.0.tgz")).toBeNull();
		expect(upstreamOfUrl(config, "not a url")).toBeNull();
	});
});

describe("upstream integrity", () => {
	it("checks the strongest hash dist.integrity names, else dist.shasum, else nothing can be checked", async () => {
		const sha512 = (await digestOf("SHA-512")).toBase64();
		const sha1 = (await digestOf("SHA-1")).toBase64();
		const strongest = expectedDigest({ integrity: `sha1-${sha1} sha512-${sha512}` });
		expect(strongest).toEqual({ algorithm: "SHA-512", accepted: [sha512], encoding: "base64" });
		expect(strongest && digestAccepted(strongest, await digestOf("SHA-512"))).toBe(true);
		expect(strongest && digestAccepted(strongest, await digestOf("SHA-384"))).toBe(false);

		const legacy = expectedDigest({ shasum: (await digestOf("SHA-1")).toHex().toUpperCase() });
		expect(legacy?.algorithm).toBe("SHA-1");
		expect(legacy && digestAccepted(legacy, await digestOf("SHA-1"))).toBe(true);

		expect(strongest && checkedIntegrity(strongest)).toBe(`sha512-${sha512}`);
		expect(legacy && checkedIntegrity(legacy)).toBe(`sha1-${sha1}`);
		expect(expectedDigest({ integrity: "md5-abc" })).toBeNull();
		expect(expectedDigest({})).toBeNull();
	});
});

describe("a checked upstream tarball's first answer (#22.13)", () => {
	it("answers from memory only a known size up to 1 MiB, within the isolate's budget, given back once", () => {
		const MiB = 1024 * 1024;
		expect(holdForAnswer(null)).toBeNull();
		expect(holdForAnswer(ANSWERED_FROM_MEMORY_BYTES + 1)).toBeNull();
		const held: (() => void)[] = [];
		try {
			for (let next = holdForAnswer(MiB); next; next = holdForAnswer(MiB)) held.push(next);
			expect(held).toHaveLength(MEMORY_ANSWER_BUDGET_BYTES / MiB);
			// Given back twice, the room counts once.
			held[0]?.();
			held[0]?.();
			const again = holdForAnswer(MiB);
			expect(again).not.toBeNull();
			if (again) held.push(again);
			expect(holdForAnswer(MiB)).toBeNull();
		} finally {
			for (const release of held) release();
		}
		const after = holdForAnswer(ANSWERED_FROM_MEMORY_BYTES);
		expect(after).not.toBeNull();
		after?.();
	});
});

describe("an upstream packument as served here", () => {
	const signed = {
		integrity: "sha512-abc",
		shasum: "0".repeat(40),
		tarball: "https://registry.npmjs.org/@s/pkg/-/pkg-1.0.0.tgz",
		signatures: [{ keyid: "SHA256:x", sig: "MEUCIQ" }],
		attestations: { url: "https://registry.npmjs.org/-/npm/v1/attestations/@s/pkg@1.0.0", provenance: {} },
	};
	const upstream = {
		name: "@s/pkg",
		"dist-tags": { latest: "1.0.0" },
		time: { created: "2020-01-01T00:00:00.000Z", "1.0.0": "2020-01-01T00:00:00.000Z" },
		versions: { "1.0.0": { name: "@s/pkg", version: "1.0.0", dist: signed } },
	};

	it("points dist.tarball here and changes nothing else", () => {
		const result = rewriteUpstreamPackument("@s/pkg", JSON.stringify(upstream), "BASE");
		expect(result.ok).toBe(true);
		if (!result.ok) return;
		const doc = JSON.parse(result.value.body);
		expect(doc).toEqual({
			...upstream,
			versions: {
				"1.0.0": { ...upstream.versions["1.0.0"], dist: { ...signed, tarball: "BASE/@s/pkg/-/pkg-1.0.0.tgz" } },
			},
		});
		expect(result.value.versions).toEqual([
			{ version: "1.0.0", url: signed.tarball, integrity: signed.integrity, shasum: signed.shasum },
		]);
	});

	it("is refused when it is not JSON, not an object, or the packument of another name", () => {
		expect(rewriteUpstreamPackument("a", "<html>", "B")).toEqual({
			ok: false,
			reason: "the packument is not valid JSON",
		});
		expect(rewriteUpstreamPackument("a", "[]", "B")).toEqual({
			ok: false,
			reason: "the packument is not a JSON object",
		});
		expect(rewriteUpstreamPackument("a", JSON.stringify({ name: "b" }), "B")).toEqual({
			ok: false,
			reason: "asked for a, upstream answered with the packument of b",
		});
	});
});
