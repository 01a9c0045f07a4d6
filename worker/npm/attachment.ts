import { Base64Decoder, Base64Error } from "../publishing/base64-stream";
import type { FileBundleWriter } from "../publishing/file-bundle";
import type { TarballWriter } from "../publishing/tarball-writer";
import type { Unpacking } from "../publishing/unpacking";
import { refused } from "../refusals";
import type { AttachmentSink } from "./publish-body";

// The tarball of an npm publish as it arrives: base64 text from the body, decoded piece by piece
// into a TarballWriter (hashed, and on its way to R2) and, at the same time, into the gzip and
// tar reader that fills the file bundle. Both move at the pace of the slower.

const notBase64 = refused.notBase64;

export class IncomingAttachment implements AttachmentSink {
	private readonly base64 = new Base64Decoder();

	constructor(
		readonly name: string,
		readonly tarball: TarballWriter,
		private readonly unpacking: Unpacking<FileBundleWriter>,
	) {}

	async write(text: Uint8Array): Promise<void> {
		await this.take(this.decode(() => this.base64.push(text)));
	}

	async end(): Promise<void> {
		await this.take(this.decode(() => this.base64.end()));
	}

	/** The file bundle, filled as the tarball arrived (an unreadable tarball is refused here). */
	bundle(): Promise<FileBundleWriter> {
		return this.unpacking.result();
	}

	/** Stops the reader of a publish that will not happen. */
	abandon(reason: unknown): Promise<void> {
		return this.unpacking.abandon(reason);
	}

	private async take(bytes: Uint8Array): Promise<void> {
		await Promise.all([this.tarball.write(bytes), this.unpacking.feed(bytes)]);
	}

	private decode(step: () => Uint8Array): Uint8Array {
		try {
			return step();
		} catch (error) {
			if (error instanceof Base64Error) throw notBase64();
			throw error;
		}
	}
}
