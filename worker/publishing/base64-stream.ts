// Decoding base64 text that arrives in pieces cut anywhere: whole groups of four characters are
// decoded at once (Uint8Array.fromBase64), the rest waits for the next piece. Padding may only end
// the text; ASCII whitespace is skipped, as fromBase64 does.

export class Base64Error extends Error {}

const WHITESPACE = /[\t\n\f\r ]/;
const ALL_WHITESPACE = /[\t\n\f\r ]/g;
const text = new TextDecoder();

export class Base64Decoder {
	private carry = "";
	/** A group with padding was decoded: nothing but whitespace may follow. */
	private padded = false;

	/** The bytes of the complete groups so far; throws Base64Error on text that is not base64. */
	push(ascii: Uint8Array): Uint8Array {
		let piece = text.decode(ascii);
		if (WHITESPACE.test(piece)) piece = piece.replace(ALL_WHITESPACE, "");
		if (piece === "") return new Uint8Array();
		if (this.padded) throw new Base64Error("base64 text goes on after its padding");
		const all = this.carry + piece;
		const whole = all.length - (all.length % 4);
		this.carry = all.slice(whole);
		return this.decode(all.slice(0, whole));
	}

	/** The bytes of the last, possibly unpadded, group. */
	end(): Uint8Array {
		const rest = this.carry;
		this.carry = "";
		return rest === "" ? new Uint8Array() : this.decode(rest);
	}

	private decode(groups: string): Uint8Array {
		if (groups === "") return new Uint8Array();
		const padding = groups.indexOf("=");
		// Padding belongs to the last group only; the next piece must then bring nothing.
		if (padding !== -1) {
			if (padding < groups.length - 2 || this.carry !== "") throw new Base64Error("padding inside base64 text");
			this.padded = true;
		}
		try {
			return Uint8Array.fromBase64(groups);
		} catch {
			throw new Base64Error("not base64");
		}
	}
}
