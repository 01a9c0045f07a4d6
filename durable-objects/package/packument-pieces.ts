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
	const entry = fullEntry(maintainers);
	const [head, tail] = fullFrame(pkg, pieces, latest, distTags, maintainers);
	return `${head}{${pieces.map(entry).join(",")}}${tail}`;
}

/** The abbreviated packument's text from the pieces of every version, in publish order. */
export function assembleAbbreviated(
	pkg: PackageRow,
	pieces: AbbreviatedPiece[],
	distTags: Record<string, string>,
): string {
	const [head, tail] = abbreviatedFrame(pkg, distTags);
	return `${head}{${pieces.map(abbreviatedEntry).join(",")}}${tail}`;
}

/**
 * The full form's text before and after its versions object, as the pure builder makes it (its
 * time needs only the publish times, in publish order): a streamed read writes the versions between.
 */
export function fullFrame(
	pkg: PackageRow,
	times: Pick<VersionRow, "version" | "published_at">[],
	latest: VersionRow | null,
	distTags: Record<string, string>,
	maintainers: Person[],
): [string, string] {
	const marker = `\u0000${crypto.randomUUID()}`;
	return splitAt(
		JSON.stringify(fullPackumentFrame(pkg, times, latest, distTags, maintainers, marker)),
		JSON.stringify(marker),
	);
}

/** The abbreviated form's text before and after its versions object. */
export function abbreviatedFrame(pkg: PackageRow, distTags: Record<string, string>): [string, string] {
	const marker = `\u0000${crypto.randomUUID()}`;
	return splitAt(JSON.stringify(abbreviatedPackumentFrame(pkg, distTags, marker)), JSON.stringify(marker));
}

/** One version's `"number":{…}` in the full form, with the package's current maintainers. */
export function fullEntry(maintainers: Person[]): (piece: FullPiece) => string {
	const people = JSON.stringify(asPeople(maintainers));
	return (p) => `${JSON.stringify(p.version)}:${p.full_head}${people}${p.full_tail}`;
}

/** One version's `"number":{…}` in the abbreviated form. */
export function abbreviatedEntry(piece: AbbreviatedPiece): string {
	return `${JSON.stringify(piece.version)}:${piece.abbreviated}`;
}

function splitAt(text: string, marker: string): [string, string] {
	const at = text.indexOf(marker);
	if (at < 0) throw new Error("packument piece: marker not found");
	return [text.slice(0, at), text.slice(at + marker.length)];
}
