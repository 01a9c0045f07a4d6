import { describe, expect, it } from "vitest";
import { Base64Decoder, Base64Error } from "../worker/publishing/base64-stream";

// Base64 text decoded in pieces cut anywhere (worker/publishing/base64-stream.ts), as the publish
// body brings it: the same bytes as decoding the whole text at once, and the same refusals.

const ascii = (text: string) => new TextEncoder().encode(text);

function decodeInPieces(text: string, cuts: number[]): Uint8Array {
	const decoder = new Base64Decoder();
	const out: number[] = [];
	let from = 0;
	for (const to of [...cuts, text.length]) {
		out.push(...decoder.push(ascii(text.slice(from, to))));
		from = to;
	}
	out.push(...decoder.end());
	return new Uint8Array(out);
}

describe("Base64Decoder", () => {
	const bytes = crypto.getRandomValues(new Uint8Array(1000));

	it.each([0, 1, 2, 3])("decodes text cut anywhere (%i bytes past a whole group)", (extra) => {
		const data = bytes.subarray(0, 300 + extra);
		const text = data.toBase64();
		for (const cuts of [[], [1], [2, 3], [5, 6, 7, 100], Array.from({ length: text.length - 1 }, (_, i) => i + 1)]) {
			expect(decodeInPieces(text, cuts)).toEqual(data);
		}
	});

	it("accepts unpadded endings and whitespace, as Uint8Array.fromBase64 does", () => {
		expect(decodeInPieces("QUJD\nREU", [3])).toEqual(ascii("ABCDE"));
		expect(decodeInPieces("QU JD RE U=", [2, 6])).toEqual(ascii("ABCDE"));
	});

	it.each([
		["a character outside the alphabet", "QUJD!EFG"],
		["padding in the middle", "QQ==QUJD"],
		["padding cut from what follows it", "QQ==|QUJD"],
		["a single character left at the end", "QUJDR"],
		["a non-ASCII byte", "QUJD\u00e9EFG"],
	])("refuses %s", (_name, text) => {
		const [head = "", tail] = text.split("|");
		expect(() => decodeInPieces(head + (tail ?? ""), tail === undefined ? [3] : [head.length])).toThrow(Base64Error);
	});
});
