// Hashing on the platform's own `crypto.subtle`, for every layer: no polyfills, no hand-rolled digests.

export type Bytes = Uint8Array<ArrayBuffer>;
const encoder = new TextEncoder();

export async function digest(algorithm: "SHA-1" | "SHA-256" | "SHA-384" | "SHA-512", data: Bytes): Promise<Bytes> {
	return new Uint8Array(await crypto.subtle.digest(algorithm, data));
}

export async function sha256Hex(text: string): Promise<string> {
	return (await digest("SHA-256", encoder.encode(text) as Bytes)).toHex();
}

export function randomHex(byteLength: number): string {
	return crypto.getRandomValues(new Uint8Array(byteLength)).toHex();
}
