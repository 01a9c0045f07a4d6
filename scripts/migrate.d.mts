// Types of migrate.mjs, for the TypeScript that imports it (tests/e2e/migrate-progress.test.ts).
export type ProgressStream = { isTTY?: boolean; write(text: string): unknown };
export class Progress {
	constructor(stream?: ProgressStream);
	readonly tty: boolean;
	packages: number;
	versions: number;
	bytes: number;
	addTotal(packages: number, versions: number): void;
	add(increment: {
		packages?: number;
		versions?: number;
		bytes?: number;
		totalPackages?: number;
		totalVersions?: number;
	}): void;
	line(text: string): void;
	draw(): void;
	stop(): void;
}
export function integrityProblem(
	dist: { integrity?: string; shasum?: string },
	actual: { integrity: string; shasum: string },
): string | null;
export function checksumsOf(bytes: Uint8Array): { integrity: string; shasum: string };
