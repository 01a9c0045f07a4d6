import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { newSecret } from "./scripts/dev-vars.mjs";
import { isolatedWranglerConfig } from "./tests/e2e/wrangler-config.ts";

// Integration tests run inside workerd against the real bindings of wrangler.jsonc (DO SQLite,
// R2); the secrets, which never live in the config, and a few smaller limits are supplied here.
// The config is a copy in a directory of its own, whose .dev.vars holds the test secrets: the
// working tree's .dev.vars, .env and the environment then cannot change any binding.
const configDir = mkdtempSync(join(tmpdir(), "registry-integration-"));
process.once("exit", () => rmSync(configDir, { recursive: true, force: true }));

export default defineConfig({
	plugins: [
		cloudflareTest({
			wrangler: {
				configPath: isolatedWranglerConfig(configDir, {
					ADMIN_TOKEN: "test-admin-token",
					URL_SIGNING_SECRET: "test-signing-secret",
					ENCRYPTION_KEY: "test-encryption-key",
					REGISTRY_SIGNING_KEY: newSecret("REGISTRY_SIGNING_KEY"),
				}),
			},
			miniflare: {
				bindings: {
					MAX_BODY_SIZE: "1048576",
					// As small as before #14's larger defaults, so the gzip-bomb tests stay quick.
					MAX_UNPACKED_SIZE: "104857600",
					// Tests run alarms themselves; pushing download totals at once keeps them short.
					SEARCH_DOWNLOADS_PUSH_SECONDS: "0",
				},
				// Small limits, so tests/rate-limits.test.ts reaches them (requests without a
				// CF-Connecting-IP, as in every other test, are never limited).
				ratelimits: {
					CUSTOMER_RATE_LIMIT: { namespace_id: "4101", simple: { limit: 5, period: 60 } },
					ANONYMOUS_RATE_LIMIT: { namespace_id: "4102", simple: { limit: 5, period: 60 } },
					AUTH_FAILURE_RATE_LIMIT: { namespace_id: "4103", simple: { limit: 3, period: 60 } },
				},
			},
		}),
	],
	test: {
		include: ["tests/*.test.ts"],
		testTimeout: 20_000,
	},
});
