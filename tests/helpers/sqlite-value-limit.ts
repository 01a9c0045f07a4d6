import { env, listDurableObjectIds } from "cloudflare:test";
import { afterAll } from "vitest";
import { largestValueIn, MAX_SQLITE_VALUE_BYTES } from "./sqlite-values";

// A setup file of every integration project (vitest.config.ts): after each test file, every
// Durable Object the file created (package objects, the auth store, token objects, the search
// index) is read for a SQLite value over Cloudflare's 2 MB, and the file fails if one is found.
// Local runs accept such values; the platform refuses the write that makes them.

afterAll(async () => {
	const namespaces = { PACKAGES: env.PACKAGES, AUTH: env.AUTH, TOKENS: env.TOKENS, INDEX: env.INDEX } as const;
	const over: string[] = [];
	for (const [binding, namespace] of Object.entries(namespaces) as [string, DurableObjectNamespace][]) {
		for (const id of await listDurableObjectIds(namespace)) {
			const largest = await largestValueIn(namespace.get(id));
			if (largest && largest.bytes > MAX_SQLITE_VALUE_BYTES) {
				over.push(`${binding} ${id.toString()}: ${largest.table}.${largest.column} holds ${largest.bytes} bytes`);
			}
		}
	}
	if (over.length > 0) throw new Error(`SQLite values over ${MAX_SQLITE_VALUE_BYTES} bytes:\n${over.join("\n")}`);
});
