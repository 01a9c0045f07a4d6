import { join } from "node:path";
import { defineConfig } from "vitest/config";

// End-to-end tests: Node drives `wrangler dev` and the real npm, pnpm, yarn and bun CLIs. Files
// run one at a time because each starts its own registry and the machine has two cores. The
// global setup installs the pinned pnpm, yarn and bun outside the working tree (once) and makes the
// run's scratch folder, removed when the run ends.
export default defineConfig({
	test: {
		include: ["tests/e2e/**/*.test.ts"],
		globalSetup: [join(import.meta.dirname, "clients-install.ts"), join(import.meta.dirname, "scratch.ts")],
		fileParallelism: false,
		testTimeout: 180_000,
		hookTimeout: 120_000,
	},
});
