import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { newSecret } from "./scripts/dev-vars.mjs";
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

// After each file, every object's SQLite is checked for a value over Cloudflare's 2 MB (#25).
const VALUE_LIMIT = "./tests/helpers/sqlite-value-limit.ts";

export default defineConfig({
	test: {
		testTimeout: 20_000,
		projects: [
			{
				plugins: [cloudflareTest({ wrangler: { configPath }, miniflare: { bindings, ratelimits } })],
				test: {
					name: "registry",
					include: ["tests/*.test.ts"],
					exclude: ["tests/upstream-*.test.ts"],
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
					fileParallelism: false,
					setupFiles: [VALUE_LIMIT],
				},
			},
		],
	},
});
