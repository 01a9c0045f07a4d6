import type { Person } from "../../schema/package/contract";
import type { PackageRow, VersionRow } from "../../schema/package/rows";
import {
	abbreviatedPackumentFrame,
	abbreviatedVersion,
	asPeople,
	fullPackumentFrame,
	versionDocument,
} from "./packument";

// The packuments in pieces: each version's part of both forms is built once, when the version is
// published (or deprecated, or signed), and stored beside it; a read joins the pieces into the
// same bytes `JSON.stringify(fullPackument(…))` and `JSON.stringify(abbreviatedPackument(…))`
// give. So a publish writes what changed, not the whole document, and no stored value grows with
// the number of versions. Pure functions.
//
// The full form repeats the package's maintainers inside every version, and they change without
// the versions changing (a new publisher, npm owner): its piece is stored as the text before and
// after them, and a read puts the current list between.

export type VersionPieces = { fullHead: string; fullTail: string; abbreviated: string };

export function versionPieces(pkg: PackageRow, row: VersionRow): VersionPieces {
	// A marker no published text can contain: random for every build.
	const marker = `\u0000${crypto.randomUUID()}`;
	const [fullHead, fullTail] = splitAt(
		JSON.stringify(versionDocument(pkg, row, marker as unknown as Person[])),
		JSON.stringify(marker),
	);
	return { fullHead, fullTail, abbreviated: JSON.stringify(abbreviatedVersion(pkg, row)) };
}

export type FullPiece = { version: string; published_at: string; full_head: string; full_tail: string };
export type AbbreviatedPiece = { version: string; abbreviated: string };

/** The full packument's text from the pieces of every version, in publish order. */
export function assembleFull(
	pkg: PackageRow,
	pieces: FullPiece[],
	latest: VersionRow | null,
	distTags: Record<string, string>,
	maintainers: Person[],
): string {
	const people = JSON.stringify(asPeople(maintainers));
	const versions = pieces.map((p) => `${JSON.stringify(p.version)}:${p.full_head}${people}${p.full_tail}`);
	// The rest of the document as the pure builder makes it, its versions left out (its time needs
	// only the publish times).
	const marker = `\u0000${crypto.randomUUID()}`;
	const frame = fullPackumentFrame(pkg, pieces, latest, distTags, maintainers, marker);
	return joinVersions(frame, marker, versions);
}

/** The abbreviated packument's text from the pieces of every version, in publish order. */
export function assembleAbbreviated(
	pkg: PackageRow,
	pieces: AbbreviatedPiece[],
	distTags: Record<string, string>,
): string {
	const versions = pieces.map((p) => `${JSON.stringify(p.version)}:${p.abbreviated}`);
	const marker = `\u0000${crypto.randomUUID()}`;
	return joinVersions(abbreviatedPackumentFrame(pkg, distTags, marker), marker, versions);
}

/** The frame's text with the versions object, written from the pieces, where the marker stands. */
function joinVersions(frame: Record<string, unknown>, marker: string, versions: string[]): string {
	const [head, tail] = splitAt(JSON.stringify(frame), JSON.stringify(marker));
	return `${head}{${versions.join(",")}}${tail}`;
}

function splitAt(text: string, marker: string): [string, string] {
	const at = text.indexOf(marker);
	if (at < 0) throw new Error("packument piece: marker not found");
	return [text.slice(0, at), text.slice(at + marker.length)];
}
