import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

// One scratch folder per run of the end-to-end tests (a vitest globalSetup): every state
// directory, project and HOME the harness makes lives under it, and it is removed at the end.

declare module "vitest" {
	export interface ProvidedContext {
		e2eScratch: string;
	}
}

export default function setup(project: TestProject): () => void {
	const root = mkdtempSync(join(tmpdir(), "registry-e2e-"));
	project.provide("e2eScratch", root);
	return () => rmSync(root, { recursive: true, force: true });
}
