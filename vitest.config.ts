import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { newSecret } from "./scripts/dev-vars.mjs";
import { Issuer } from "./tests/e2e/oidc-issuer.ts";
import { UPSTREAM_ADMIN_TOKEN, upstreamWorkers } from "./tests/e2e/upstream-workers.ts";
import { isolatedWranglerConfig } from "./tests/e2e/wrangler-config.ts";

// Integration tests run inside workerd against the real bindings of wrangler.jsonc (DO SQLite,
// R2); the secrets, which never live in the config, and a few smaller limits are supplied here.
// The config is a copy in a directory of its own, whose .dev.vars holds the test secrets: the
// working tree's .dev.vars, .env and the environment then cannot change any binding.
const configDir = mkdtempSync(join(tmpdir(), "registry-integration-"));
process.once("exit", () => rmSync(configDir, { recursive: true, force: true }));

const configPath = isolatedWranglerConfig(configDir, {
	ADMIN_TOKEN: "test-admin-token",
	URL_SIGNING_SECRET: "test-signing-secret",
	ENCRYPTION_KEY: "test-encryption-key",
	REGISTRY_SIGNING_KEY: newSecret("REGISTRY_SIGNING_KEY"),
});

/** The test issuers of trusted publishing, on loopback (the only place http issuers are trusted). */
const TEST_ISSUERS = { github: "http://127.0.0.1:4980/github", gitlab: "http://127.0.0.1:4980/gitlab" };

const bindings = {
	MAX_BODY_SIZE: "1048576",
	// As small as before #14's larger defaults, so the gzip-bomb tests stay quick.
	MAX_UNPACKED_SIZE: "104857600",
	// Tests run alarms themselves; pushing download totals at once keeps them short.
	SEARCH_DOWNLOADS_PUSH_SECONDS: "0",
};

// Small limits, so tests/rate-limits.test.ts reaches them (requests without a CF-Connecting-IP, as
// in every other test, are never limited).
const ratelimits = {
	CUSTOMER_RATE_LIMIT: { namespace_id: "4101", simple: { limit: 5, period: 60 } },
	ANONYMOUS_RATE_LIMIT: { namespace_id: "4102", simple: { limit: 5, period: 60 } },
	AUTH_FAILURE_RATE_LIMIT: { namespace_id: "4103", simple: { limit: 3, period: 60 } },
};

// Tests of pure functions (no SELF, no env, no bindings): still in workerd (the code under test
// uses its APIs, Uint8Array.fromBase64 for one, which Node 24 lacks) but in one runtime for all
// of them, files not isolated from each other, instead of a fresh workerd start per file (#23.6).
// A test file that touches SELF, env, a binding or module state belongs to the projects below.
const unitTests = [
	"tests/architecture.test.ts",
	"tests/base64-stream.test.ts",
	"tests/export-coverage.test.ts",
	"tests/grants.test.ts",
	"tests/names.test.ts",
	"tests/packument-documents.test.ts",
	"tests/readme-sanitising.test.ts",
	"tests/search-document.test.ts",
	"tests/search-query.test.ts",
	"tests/upstream-rules.test.ts",
];

/**
 * The registry project's network: none. Every request the registry makes out (a hook's delivery)
 * is answered as a gateway in front of a stopped server would, 502: a real refused connection
 * logs "Network connection lost" as an uncaught exception in workerd for every attempt (#23.6),
 * and no test here may depend on the machine's network.
 */
function unreachableNetwork(request: Request): Response {
	return new Response(`connect ECONNREFUSED ${new URL(request.url).host}`, { status: 502 });
}

// After each file, every object's SQLite is checked for a value over Cloudflare's 2 MB (#25).
const VALUE_LIMIT = "./tests/helpers/sqlite-value-limit.ts";

export default defineConfig({
	test: {
		testTimeout: 20_000,
		projects: [
			{
				plugins: [cloudflareTest({ wrangler: { configPath } })],
				test: { name: "unit", include: unitTests, isolate: false },
			},
			{
				plugins: [
					cloudflareTest({
						wrangler: { configPath },
						miniflare: { bindings, ratelimits, outboundService: unreachableNetwork },
					}),
				],
				test: {
					name: "registry",
					include: ["tests/*.test.ts"],
					exclude: ["tests/upstream-*.test.ts", "tests/trust-*.test.ts", ...unitTests],
					setupFiles: [VALUE_LIMIT],
				},
			},
			{
				// The same registry with upstream registries behind it: real instances of this registry
				// (built once, when these tests run) reached through a network Worker that records
				// every request (tests/e2e/upstream-workers.ts).
				plugins: [
					cloudflareTest(async () => ({
						wrangler: { configPath },
						miniflare: {
							bindings: {
								...bindings,
								// Asked in this order; only the second gets a token (its admin's).
								UPSTREAM_URL: "http://upstream.test http://second-upstream.test http://third-upstream.test",
								UPSTREAM_TOKEN: `,${UPSTREAM_ADMIN_TOKEN}`,
								OWNED_SCOPES: "@owned",
								// Short, so the test of an upstream that never answers ends soon.
								UPSTREAM_TIMEOUT_SECONDS: "3",
								// Short, so the test of a tarball that trickles in ends soon (#22.3).
								UPSTREAM_DOWNLOAD_SECONDS: "5",
							},
							ratelimits,
							outboundService: "upstream-network",
							workers: upstreamWorkers(join(configDir, "upstream")),
						},
					})),
				],
				// One file at a time: tests cut upstream hosts off the network every file shares.
				test: {
					name: "upstream",
					include: ["tests/upstream-*.test.ts"],
					exclude: unitTests,
					fileParallelism: false,
					setupFiles: [VALUE_LIMIT],
				},
			},
			{
				// Trusted publishing (#19): the registry's outbound requests reach a test OpenID Connect
				// issuer (tests/e2e/oidc-issuer.ts) on loopback, whose keys the tests generate.
				plugins: [
					cloudflareTest({
						wrangler: { configPath },
						miniflare: {
							bindings: { ...bindings, OIDC_ISSUERS: JSON.stringify(TEST_ISSUERS) },
							ratelimits,
							outboundService: new Issuer().fetch,
						},
					}),
				],
				test: { name: "trust", include: ["tests/trust-*.test.ts"], setupFiles: [VALUE_LIMIT] },
			},
		],
	},
});
