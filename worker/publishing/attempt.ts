import { BlobWriter } from "../../durable-objects/blob-writer";
import { config } from "../../schema/config";
import { admitPublish, drain } from "./admission";

// One attempt at storing a version (npm publish or bundle upload): its R2 objects live under keys
// unique to it (two concurrent publishes of one version never write the same object), and an
// attempt that does not commit leaves none of them behind: unfinished multipart uploads are
// aborted, finished objects deleted, on every way out (a refusal, a thrown error, a client gone).

export class PublishAttempt {
	readonly id = crypto.randomUUID();
	/** Set once the package object has committed the version: its bytes must stay. */
	committed = false;
	private readonly writers: BlobWriter[] = [];
	// When the attempt began: the reindex sweep leaves an unreferenced object alone for an hour after.
	private readonly customMetadata = { startedAt: new Date().toISOString() };

	constructor(
		private readonly env: Env,
		readonly packageName: string,
	) {}

	/**
	 * The tarball, `tarballs/{name}/{version}/{attempt}.tgz`. The version is asked for when the first
	 * bytes are stored, and may not be known yet (a body that sends its tarball before its document,
	 * an upload whose package.json comes late): then the segment is `_`. It only informs: keys are
	 * never parsed for it (the reindex reads the name, and the attempt makes the key unique).
	 */
	tarball(version: () => string | null): BlobWriter {
		return this.writer(() => `tarballs/${this.packageName}/${version() ?? "_"}/${this.id}.tgz`, {
			contentType: "application/octet-stream",
		});
	}

	/** The file bundle, `files/{name}/{version}/{attempt}.bin` (an upload chooses its version after reading it). */
	bundle(version: () => string | null): BlobWriter {
		return this.writer(() => `files/${this.packageName}/${version() ?? "_"}/${this.id}.bin`);
	}

	/** Deletes or aborts everything the attempt wrote; failures are logged and left to the reindex sweep. */
	async forget(): Promise<void> {
		await Promise.all(this.writers.map((writer) => writer.abort()));
	}

	private writer(key: () => string, httpMetadata?: R2HTTPMetadata): BlobWriter {
		const writer = new BlobWriter(this.env.BLOBS, {
			key,
			customMetadata: this.customMetadata,
			...(httpMetadata ? { httpMetadata } : {}),
		});
		this.writers.push(writer);
		return writer;
	}
}

/**
 * Runs an attempt; unless it committed, whatever it wrote is removed before the answer goes out.
 * A large one waits its turn in the isolate (admission.ts): 503 with Retry-After when it is full.
 */
export async function attempting<T>(
	env: Env,
	packageName: string,
	request: Request,
	run: (attempt: PublishAttempt) => Promise<T>,
): Promise<T> {
	let done: () => void;
	try {
		done = admitPublish(request);
	} catch (refusal) {
		await drain(request, config(env).maxBodySize);
		throw refusal;
	}
	const attempt = new PublishAttempt(env, packageName);
	try {
		return await run(attempt);
	} finally {
		if (!attempt.committed) await attempt.forget();
		done();
	}
}
