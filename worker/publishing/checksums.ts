// Checksums of bytes that pass by in pieces (crypto.DigestStream: nothing is held whole).

export type TarballChecksums = { integrity: string; shasum: string };

/** npm's two checksums of a tarball, `dist.integrity` (SRI sha512) and `dist.shasum` (hex sha1), as it streams. */
export class TarballHasher {
	private readonly sha512 = new crypto.DigestStream("SHA-512");
	private readonly sha1 = new crypto.DigestStream("SHA-1");
	private readonly writers = [this.sha512.getWriter(), this.sha1.getWriter()];

	async update(chunk: Uint8Array): Promise<void> {
		await Promise.all(this.writers.map((writer) => writer.write(chunk)));
	}

	async digest(): Promise<TarballChecksums> {
		await Promise.all(this.writers.map((writer) => writer.close()));
		const [sha512, sha1] = await Promise.all([this.sha512.digest, this.sha1.digest]);
		return { integrity: `sha512-${new Uint8Array(sha512).toBase64()}`, shasum: new Uint8Array(sha1).toHex() };
	}
}

/** The digest of a stream's bytes. */
async function streamDigest(algorithm: "SHA-384", stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
	const digest = new crypto.DigestStream(algorithm);
	await stream.pipeTo(digest);
	return new Uint8Array(await digest.digest);
}

/** A subresource-integrity value (`<script integrity>`, import maps) of a stream's bytes. */
export async function sriSha384(stream: ReadableStream<Uint8Array>): Promise<string> {
	return `sha384-${(await streamDigest("SHA-384", stream)).toBase64()}`;
}
