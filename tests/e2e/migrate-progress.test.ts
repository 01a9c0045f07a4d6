import { describe, expect, it } from "vitest";
import { checksumsOf, integrityProblem, Progress } from "../../scripts/migrate.mjs";

// The parts of `npm run migrate` (#18) that need no registry: its progress display and its
// client-side integrity check.

function stream(isTTY: boolean) {
	const written: string[] = [];
	return { isTTY, written, write: (text: string) => written.push(text) };
}

describe("npm run migrate's progress (#18)", () => {
	it("draws one line on a terminal: a bar, packages, versions, bytes and time left", () => {
		const terminal = stream(true);
		const progress = new Progress(terminal);
		progress.addTotal(2, 4);
		progress.add({ versions: 2, bytes: 2048 });
		progress.add({ packages: 1 });
		progress.line("failed  a@1.0.0: the tarball does not match dist.integrity (sha512)");
		progress.stop();
		const output = terminal.written.join("");
		expect(output).toContain("failed  a@1.0.0: the tarball does not match dist.integrity (sha512)\n");
		// Each redraw clears the terminal's line (ESC [2K) after a carriage return.
		expect(output).toContain("\r\u001b[2K[############------------] packages 1/2 · versions 2/4 · 2.0 kB · ");
		expect(output).toMatch(/2\.0 kB · \d+ s elapsed · \d+ s left/);
	});

	it("writes plain lines elsewhere, never a carriage return", () => {
		const log = stream(false);
		const progress = new Progress(log);
		progress.addTotal(1, 1);
		progress.line("copied  a@1.0.0");
		progress.add({ versions: 1, packages: 1 });
		progress.stop();
		expect(log.written).toEqual(["copied  a@1.0.0\n"]);
	});
});

describe("npm run migrate's integrity check (#18)", () => {
	const bytes = new TextEncoder().encode("a tarball");
	const actual = checksumsOf(bytes);
	const other = checksumsOf(new TextEncoder().encode("another"));
	const sha1 = (hex: string) => `sha1-${Buffer.from(hex, "hex").toString("base64")}`;

	it("checks the strongest hash the source names, else its sha1, and dist.shasum", () => {
		expect(integrityProblem({ integrity: actual.integrity, shasum: actual.shasum }, actual)).toBeNull();
		expect(integrityProblem({ integrity: other.integrity, shasum: actual.shasum }, actual)).toMatch(/sha512/);
		expect(integrityProblem({ integrity: actual.integrity, shasum: other.shasum }, actual)).toMatch(/shasum/);
		expect(integrityProblem({ integrity: sha1(actual.shasum) }, actual)).toBeNull();
		expect(integrityProblem({ integrity: sha1(other.shasum) }, actual)).toMatch(/sha1/);
		expect(integrityProblem({ shasum: actual.shasum }, actual)).toBeNull();
	});

	it("refuses a source that names no hash it can check", () => {
		expect(integrityProblem({}, actual)).toMatch(/no integrity/);
		expect(integrityProblem({ integrity: "sha256-AAAA" }, actual)).toMatch(/no integrity/);
	});
});
