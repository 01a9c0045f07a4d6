import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

// Integration tests run inside workerd against the real bindings of wrangler.jsonc (DO SQLite,
// R2); only the secrets, which never live in the config, are supplied here.
export default defineConfig({
	plugins: [
		cloudflareTest({
			wrangler: { configPath: "./wrangler.jsonc" },
			miniflare: {
				bindings: {
					ADMIN_TOKEN: "test-admin-token",
					URL_SIGNING_SECRET: "test-signing-secret",
					MAX_BODY_SIZE: "1048576",
				},
			},
		}),
	],
	test: {
		include: ["tests/*.test.ts"],
	},
});
