import { jsonDepth, LIMITS } from "../../schema/limits";

// An upstream packument as this registry serves it: every `dist.tarball` points at this registry
// (through a placeholder the Worker replaces with its base URL, as in local documents), and
// nothing else changes: `time`, `dist.integrity`, `dist.signatures` and `dist.attestations` pass
// through as upstream published them, except for a version whose digest changed since this
// registry first saw it: a published version never changes, so it keeps the dist first seen (its
// integrity, shasum and tarball; upstream's new signatures, which sign the new integrity, go).
// Pure: the object stores what this answers.

/** Where upstream keeps one version's tarball and what its bytes must hash to. */
export type UpstreamVersion = { version: string; url: string; integrity: string | null; shasum: string | null };

/** A version upstream now publishes with other bytes than those first seen (and pinned). */
export type ChangedVersion = { version: string; pinned: UpstreamVersion; upstream: UpstreamVersion };

export type RewrittenPackument = {
	body: string;
	versions: UpstreamVersion[];
	modified: string | null;
	changed: ChangedVersion[];
};

/** The rewritten document, or why it cannot be served (a string for the upstream's failure). */
export function rewriteUpstreamPackument(
	name: string,
	text: string,
	placeholder: string,
	pinned: ReadonlyMap<string, UpstreamVersion> = new Map(),
): { ok: true; value: RewrittenPackument } | { ok: false; reason: string } {
	let doc: unknown;
	try {
		doc = JSON.parse(text);
	} catch {
		return { ok: false, reason: "the packument is not valid JSON" };
	}
	if (!isObject(doc)) return { ok: false, reason: "the packument is not a JSON object" };
	if (jsonDepth(doc) > LIMITS.jsonDepth) return { ok: false, reason: "the packument nests too deeply" };
	if (doc.name !== undefined && doc.name !== name) {
		return { ok: false, reason: `asked for ${name}, upstream answered with the packument of ${String(doc.name)}` };
	}
	const basename = name.startsWith("@") ? name.slice(name.indexOf("/") + 1) : name;
	const versions: UpstreamVersion[] = [];
	const changed: ChangedVersion[] = [];
	for (const [version, manifest] of Object.entries(isObject(doc.versions) ? doc.versions : {})) {
		if (!isObject(manifest) || !isObject(manifest.dist) || typeof manifest.dist.tarball !== "string") continue;
		const { dist } = manifest;
		const upstream: UpstreamVersion = {
			version,
			url: String(dist.tarball),
			integrity: typeof dist.integrity === "string" ? dist.integrity : null,
			shasum: typeof dist.shasum === "string" ? dist.shasum : null,
		};
		const first = pinned.get(version);
		if (first && (first.integrity !== upstream.integrity || first.shasum !== upstream.shasum)) {
			changed.push({ version, pinned: first, upstream });
			pinDist(dist, first);
			versions.push(first);
		} else {
			versions.push(upstream);
		}
		dist.tarball = `${placeholder}/${name}/-/${basename}-${version}.tgz`;
	}
	const time = isObject(doc.time) ? doc.time : {};
	const modified =
		typeof doc.modified === "string" ? doc.modified : typeof time.modified === "string" ? time.modified : null;
	return { ok: true, value: { body: JSON.stringify(doc), versions, modified, changed } };
}

/** The dist as first seen: its digests; signatures and attestations of other bytes are dropped. */
function pinDist(dist: Record<string, unknown>, first: UpstreamVersion): void {
	if (first.integrity === null) delete dist.integrity;
	else dist.integrity = first.integrity;
	if (first.shasum === null) delete dist.shasum;
	else dist.shasum = first.shasum;
	delete dist.signatures;
	delete dist.attestations;
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}
