import { config } from "../../schema/config";
import { packageStub } from "../objects";
import { recordDownloadBatch } from "./metrics";

// Download counts of tarballs served without asking their package object (read-tier hits): kept
// in this isolate's memory and sent to each package object in one call per batch, at most
// DOWNLOAD_FLUSH_SECONDS after the first download of the batch (off the response path, through
// waitUntil). A hot package's object sees one call per isolate per interval, not one per
// download. An isolate that dies before its batch is sent loses those counts: at most one
// interval's worth of its downloads.

const pending = new Map<string, Map<string, number>>();
let sending: Promise<void> | null = null;

export function countDownload(env: Env, ctx: ExecutionContext, name: string, version: string): void {
	const versions = pending.get(name) ?? new Map<string, number>();
	versions.set(version, (versions.get(version) ?? 0) + 1);
	pending.set(name, versions);
	if (sending) return;
	const wait = config(env).downloadFlushMs;
	sending = new Promise<void>((resolve) => setTimeout(resolve, wait)).then(() => sendDownloadCounts(env));
	ctx.waitUntil(sending);
}

/** Sends every pending count now (the batch timer does this; tests call it to not wait). */
export async function sendDownloadCounts(env: Env): Promise<void> {
	sending = null;
	const batch = [...pending];
	pending.clear();
	await Promise.all(
		batch.map(async ([name, versions]) => {
			recordDownloadBatch();
			await packageStub(env, name).countDownloads(Object.fromEntries(versions));
		}),
	);
}
