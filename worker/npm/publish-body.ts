import { LIMITS } from "../../schema/limits";
import { assertDeclaredSize, malformedJson, tooDeep } from "../http";
import { BodyReader } from "../publishing/body-reader";
import { refused } from "../refusals";

// The body of PUT /{name} read as it streams in. npm sends one JSON document whose
// `_attachments.{file}.data` holds the tarball as base64 text: that text is handed on piece by piece
// as it arrives (to be decoded, hashed and written to R2), and everything else, the document, is
// kept (at most LIMITS.documentBytes) and parsed at the end with `data` left as "". The scanner
// only follows strings, brackets and keys; JSON.parse judges the syntax of the document, so a
// body that is malformed anywhere is refused, but only once it has been read.
//
// npm puts `_attachments` last, after `versions`: the members before it are handed over as soon as
// `_attachments` begins, so a document that will be refused is refused before its tarball is read.

export type AttachmentSink = {
	/** The next piece of the attachment's `data` string, JSON escapes undone; read before this returns. */
	write(text: Uint8Array): Promise<void>;
	/** The string ended. */
	end(): Promise<void>;
};

export type PublishBodyHandlers = {
	/** The document's members before `_attachments`, when any come first. */
	beforeAttachments(head: Record<string, unknown>): void | Promise<void>;
	/** An attachment's `data` string begins. */
	attachment(name: string): AttachmentSink | Promise<AttachmentSink>;
};

/** Reads the body; answers the document (each streamed `data` as ""). */
export async function readPublishBody(
	request: Request,
	maxBodySize: number,
	handlers: PublishBodyHandlers,
): Promise<unknown> {
	assertDeclaredSize(request, maxBodySize, refused.publishTooLarge);
	if (!request.body) throw malformedJson();
	const scanner = new DocumentScanner();
	const data = new DataString();
	let sink: AttachmentSink | null = null;
	let total = 0;
	const reader = new BodyReader(request.body);
	try {
		for (;;) {
			const chunk = await reader.read();
			if (chunk === null) break;
			total += chunk.byteLength;
			// Refused as soon as the limit is crossed: the rest is never read.
			if (total > maxBodySize) throw refused.publishTooLarge(maxBodySize);
			let at = 0;
			while (at < chunk.byteLength) {
				if (sink) {
					const stop = await data.feed(chunk, at, sink);
					at = stop.at;
					if (stop.ended) {
						await sink.end();
						sink = null;
						scanner.resumeAfterData();
					}
					continue;
				}
				const stop = scanner.scan(chunk, at);
				at = stop.at;
				if (stop.event === "data") sink = await handlers.attachment(stop.attachment);
				else if (stop.event === "head") {
					const head = scanner.head();
					if (head) await handlers.beforeAttachments(head);
				}
			}
		}
	} catch (error) {
		await reader.cancel().catch(() => {});
		throw error;
	}
	if (sink !== null || !scanner.complete()) throw malformedJson();
	return scanner.parse();
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

/** Keys longer than this are kept in the document but never match a path the scanner follows. */
const KEY_BYTES = 1024;

type ScanStop =
	| { at: number; event: "end" }
	| { at: number; event: "head" }
	| { at: number; event: "data"; attachment: string };

/** Follows the document's structure byte by byte, keeping its bytes, until an attachment's data begins. */
class DocumentScanner {
	private readonly stack: number[] = [];
	/** In an object, the next string is a key. */
	private expectKey = false;
	private inString = false;
	private escaped = false;
	/** The key being read, when it is one. */
	private capturing = false;
	private readonly keyBytes = new Uint8Array(KEY_BYTES);
	private keyLength = 0;
	/** The last key read at each depth. */
	private readonly keys: (string | null)[] = [];
	/** Where in the document the current top-level key began, and where `_attachments` did. */
	private topKeyStart = 0;
	private headLength = -1;
	private started = false;
	private finished = false;
	private readonly segments: Uint8Array[] = [];
	private length = 0;
	private readonly text = new TextDecoder();

	scan(chunk: Uint8Array, from: number): ScanStop {
		for (let i = from; i < chunk.byteLength; i++) {
			const byte = chunk[i] as number;
			if (this.inString) {
				if (this.escaped) this.escaped = false;
				else if (byte === BACKSLASH) this.escaped = true;
				else if (byte === QUOTE) {
					this.inString = false;
					if (this.capturing) this.endKey();
					continue;
				}
				if (this.capturing) {
					if (this.keyLength < KEY_BYTES) this.keyBytes[this.keyLength] = byte;
					this.keyLength += 1;
				}
				continue;
			}
			if (this.finished) {
				if (byte === SPACE || byte === TAB || byte === LF || byte === CR) continue;
				throw malformedJson();
			}
			switch (byte) {
				case QUOTE: {
					this.inString = true;
					this.started = true;
					if (this.stack.at(-1) === OPEN_OBJECT && this.expectKey) {
						this.capturing = true;
						this.keyLength = 0;
						if (this.stack.length === 1) this.topKeyStart = this.length + (i - from);
					} else if (this.atAttachmentData()) {
						this.keep(chunk, from, i + 1);
						return { at: i + 1, event: "data", attachment: this.keys[2] ?? "" };
					}
					break;
				}
				case OPEN_OBJECT:
				case OPEN_ARRAY: {
					if (this.stack.length >= LIMITS.jsonDepth) throw tooDeep();
					const opensAttachments = this.stack.length === 1 && byte === OPEN_OBJECT && this.keys[1] === "_attachments";
					this.stack.push(byte);
					this.keys[this.stack.length] = null;
					this.expectKey = byte === OPEN_OBJECT;
					this.started = true;
					if (opensAttachments && this.headLength === -1) {
						this.headLength = this.topKeyStart;
						this.keep(chunk, from, i + 1);
						return { at: i + 1, event: "head" };
					}
					break;
				}
				case CLOSE_OBJECT:
				case CLOSE_ARRAY: {
					if (this.stack.pop() !== (byte === CLOSE_OBJECT ? OPEN_OBJECT : OPEN_ARRAY)) throw malformedJson();
					this.expectKey = false;
					if (this.stack.length === 0) this.finished = true;
					break;
				}
				case COMMA:
					this.expectKey = this.stack.at(-1) === OPEN_OBJECT;
					break;
				default:
					if (this.stack.length === 0 && byte !== SPACE && byte !== TAB && byte !== LF && byte !== CR) {
						this.started = true;
					}
			}
		}
		this.keep(chunk, from, chunk.byteLength);
		return { at: chunk.byteLength, event: "end" };
	}

	/** The data string's closing quote is next: the document goes on from there. */
	resumeAfterData(): void {
		// Still inside the string, so the quote that comes next closes it.
		this.escaped = false;
		this.capturing = false;
	}

	complete(): boolean {
		return this.started && !this.inString && this.stack.length === 0;
	}

	/** The members before `_attachments`, as an object (null when they do not parse on their own). */
	head(): Record<string, unknown> | null {
		const bytes = this.joined().subarray(0, this.headLength);
		const text = this.text.decode(bytes).trimEnd().replace(/,$/, "");
		try {
			const head: unknown = JSON.parse(`${text}}`);
			return typeof head === "object" && head !== null && !Array.isArray(head)
				? (head as Record<string, unknown>)
				: null;
		} catch {
			return null;
		}
	}

	parse(): unknown {
		try {
			return JSON.parse(this.text.decode(this.joined()));
		} catch {
			throw malformedJson();
		}
	}

	/** At a string value of `_attachments.{name}.data`. */
	private atAttachmentData(): boolean {
		return (
			this.stack.length === 3 &&
			this.stack.every((open) => open === OPEN_OBJECT) &&
			this.keys[1] === "_attachments" &&
			this.keys[3] === "data"
		);
	}

	private endKey(): void {
		this.capturing = false;
		this.expectKey = false;
		let key: string | null = null;
		if (this.keyLength <= KEY_BYTES) {
			try {
				key = JSON.parse(`"${this.text.decode(this.keyBytes.subarray(0, this.keyLength))}"`) as string;
			} catch {
				key = null;
			}
		}
		this.keys[this.stack.length] = key;
	}

	private keep(chunk: Uint8Array, from: number, to: number): void {
		if (to <= from) return;
		this.length += to - from;
		if (this.length > LIMITS.documentBytes) {
			throw refused.documentTooLarge();
		}
		this.segments.push(chunk.slice(from, to));
	}

	private joined(): Uint8Array {
		if (this.segments.length !== 1) {
			const all = new Uint8Array(this.length);
			let offset = 0;
			for (const segment of this.segments) {
				all.set(segment, offset);
				offset += segment.byteLength;
			}
			this.segments.splice(0, this.segments.length, all);
		}
		return this.segments[0] ?? new Uint8Array();
	}
}

const ESCAPED: Record<number, number> = { 47: 0x2f, 92: 0x5c, 34: 0x22, 98: 8, 102: 12, 110: 10, 114: 13, 116: 9 };

/** The sink's pieces: bodies arrive in pieces of a few KB, and each step after this costs per piece. */
const PIECE_BYTES = 64 * 1024;

/** The text of a data string, handed on in pieces, with JSON escapes undone (encoders may write `\/`). */
class DataString {
	/** Inside an escape: after the backslash, or the hex digits of a `\u` so far. */
	private escape: string | null = null;
	/** Text gathered for the sink, which reads it before its write returns (so the buffer is reused). */
	private readonly piece = new Uint8Array(PIECE_BYTES);
	private filled = 0;

	async feed(chunk: Uint8Array, from: number, sink: AttachmentSink): Promise<{ at: number; ended: boolean }> {
		let at = from;
		while (at < chunk.byteLength) {
			if (this.escape !== null) {
				const byte = chunk[at] as number;
				at += 1;
				const decoded = this.escapeByte(byte);
				if (decoded !== null) await this.gather(Uint8Array.of(decoded), sink);
				continue;
			}
			const quote = chunk.indexOf(QUOTE, at);
			const backslash = chunk.indexOf(BACKSLASH, at);
			const stop = backslash !== -1 && (quote === -1 || backslash < quote) ? backslash : quote;
			const end = stop === -1 ? chunk.byteLength : stop;
			if (end > at) await this.gather(chunk.subarray(at, end), sink);
			if (stop === -1) return { at: chunk.byteLength, ended: false };
			if (stop === quote) {
				await this.flush(sink);
				return { at: quote, ended: true };
			}
			this.escape = "";
			at = backslash + 1;
		}
		return { at, ended: false };
	}

	private async gather(text: Uint8Array, sink: AttachmentSink): Promise<void> {
		for (let at = 0; at < text.byteLength; ) {
			const n = Math.min(text.byteLength - at, PIECE_BYTES - this.filled);
			this.piece.set(text.subarray(at, at + n), this.filled);
			this.filled += n;
			at += n;
			if (this.filled === PIECE_BYTES) await this.flush(sink);
		}
	}

	private async flush(sink: AttachmentSink): Promise<void> {
		if (this.filled === 0) return;
		const piece = this.piece.subarray(0, this.filled);
		this.filled = 0;
		await sink.write(piece);
	}

	/** The byte an escape stands for once it is complete; 0xff (never base64) for anything else. */
	private escapeByte(byte: number): number | null {
		const sofar = this.escape ?? "";
		if (sofar === "") {
			if (byte === 0x75) {
				this.escape = "u";
				return null;
			}
			this.escape = null;
			return ESCAPED[byte] ?? 0xff;
		}
		const hex = sofar + String.fromCharCode(byte);
		if (hex.length < 5) {
			this.escape = hex;
			return null;
		}
		this.escape = null;
		const code = Number.parseInt(hex.slice(1), 16);
		return Number.isNaN(code) || code > 0x7f ? 0xff : code;
	}
}
