// Types of migrate-archive.mjs, for the TypeScript that imports it (the e2e tests).
/** Increments, and with the first of them how much there is (totals, for the progress bar's time left). */
export type Progress = {
	packages: number;
	versions: number;
	bytes: number;
	totalPackages?: number;
	totalVersions?: number;
};
export type Outcome = { copied: number; present: number; failed: { name: string; version?: string; reason: string }[] };
export const ARCHIVE_FORMAT: number;
export function exportToArchive(options: {
	from: string;
	fromToken: string;
	file: string;
	scopes?: string[];
	backup?: string;
	onProgress?: (progress: Progress) => void;
}): Promise<Outcome>;
export function restoreFromArchive(options: {
	file: string;
	to: string;
	toToken: string;
	onProgress?: (progress: Progress) => void;
}): Promise<Outcome>;
export function archiveTotals(file: string): Promise<{ totalPackages: number; totalVersions: number }>;
