import type { Actor } from "../../schema/audit";
import { recordAudit } from "../audit";
import type { ChangedVersion } from "./upstream-packument";

// A version upstream now publishes with other bytes keeps the ones first seen (see
// upstream-packument.ts); the change is recorded in the package's audit trail, once per new digest.

/** Who the audit trail names for what upstream did. */
const UPSTREAM_ACTOR: Actor = { name: "upstream", prefix: null, ip: null, label: "upstream" };

export function recordUpstreamChanges(
	sql: SqlStorage,
	name: string,
	upstream: string,
	changed: ChangedVersion[],
): void {
	for (const { version, pinned, upstream: now } of changed) {
		const target = `${name}@${version}`;
		const seen = sql
			.exec(
				`SELECT 1 FROM audit WHERE action = 'upstreamChanged' AND target = ?
				   AND json_extract(detail, '$.upstreamIntegrity') IS ? AND json_extract(detail, '$.upstreamShasum') IS ?`,
				target,
				now.integrity,
				now.shasum,
			)
			.toArray();
		if (seen.length > 0) continue;
		console.warn(`upstream ${upstream} changed the bytes of ${target}; the ones first seen are kept`);
		recordAudit(sql, UPSTREAM_ACTOR, "upstreamChanged", target, {
			upstream,
			pinnedIntegrity: pinned.integrity,
			pinnedShasum: pinned.shasum,
			upstreamIntegrity: now.integrity,
			upstreamShasum: now.shasum,
			upstreamTarball: now.url,
		});
	}
}
