import { badRequest } from "../errors";
import { Base64Decoder, Base64Error } from "../publishing/base64-stream";
import type { TarballWriter } from "../publishing/tarball-writer";
import type { AttachmentSink } from "./publish-body";

// The tarball of an npm publish as it arrives: base64 text from the body, decoded piece by piece
// into a TarballWriter (hashed, and on its way to R2).

const notBase64 = () => badRequest("the attachment data is not valid base64");

export class IncomingAttachment implements AttachmentSink {
	private readonly base64 = new Base64Decoder();
	/** The data string has been read to its end. */
	complete = false;

	constructor(
		readonly name: string,
		readonly tarball: TarballWriter,
	) {}

	async write(text: Uint8Array): Promise<void> {
		await this.tarball.write(this.decode(() => this.base64.push(text)));
	}

	async end(): Promise<void> {
		await this.tarball.write(this.decode(() => this.base64.end()));
		this.complete = true;
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
