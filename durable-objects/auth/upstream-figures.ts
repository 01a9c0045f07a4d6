import type { UpstreamFigures } from "../../schema/auth/contract";
import type { UpstreamFiguresRow } from "../../schema/auth/rows";
import type { UpstreamActivity } from "../../schema/upstream";

// The registry-wide figures of each upstream: the package objects each count what they did with
// it and send the deltas from their alarms; this sums them (one upsert per report).

export class UpstreamFigureSums {
	constructor(private readonly sql: SqlStorage) {}

	add(upstream: string, a: UpstreamActivity): void {
		this.sql.exec(
			`INSERT INTO upstream_figures (upstream, document_hits, document_misses, tarball_hits, tarball_misses,
			   failures, last_error, last_error_at, last_error_package, documents, document_bytes, tarballs, tarball_bytes)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			 ON CONFLICT (upstream) DO UPDATE SET
			   document_hits = document_hits + excluded.document_hits,
			   document_misses = document_misses + excluded.document_misses,
			   tarball_hits = tarball_hits + excluded.tarball_hits,
			   tarball_misses = tarball_misses + excluded.tarball_misses,
			   failures = failures + excluded.failures,
			   last_error = CASE WHEN excluded.last_error_at >= coalesce(last_error_at, '') THEN excluded.last_error ELSE last_error END,
			   last_error_package = CASE WHEN excluded.last_error_at >= coalesce(last_error_at, '') THEN excluded.last_error_package ELSE last_error_package END,
			   last_error_at = max(coalesce(last_error_at, ''), coalesce(excluded.last_error_at, '')),
			   documents = documents + excluded.documents,
			   document_bytes = document_bytes + excluded.document_bytes,
			   tarballs = tarballs + excluded.tarballs,
			   tarball_bytes = tarball_bytes + excluded.tarball_bytes`,
			upstream,
			a.documentHits,
			a.documentMisses,
			a.tarballHits,
			a.tarballMisses,
			a.failures,
			a.lastError?.message ?? null,
			a.lastError?.at ?? null,
			a.lastError?.package ?? null,
			a.documents,
			a.documentBytes,
			a.tarballs,
			a.tarballBytes,
		);
	}

	all(): UpstreamFigures[] {
		return this.sql
			.exec<UpstreamFiguresRow>(`SELECT * FROM upstream_figures ORDER BY upstream`)
			.toArray()
			.map((row) => ({
				upstream: row.upstream,
				documentHits: row.document_hits,
				documentMisses: row.document_misses,
				tarballHits: row.tarball_hits,
				tarballMisses: row.tarball_misses,
				failures: row.failures,
				lastError:
					row.last_error === null
						? null
						: { message: row.last_error, at: row.last_error_at ?? "", package: row.last_error_package ?? "" },
				documents: row.documents,
				documentBytes: row.document_bytes,
				tarballs: row.tarballs,
				tarballBytes: row.tarball_bytes,
			}));
	}
}
