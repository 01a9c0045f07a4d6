import { randomHex } from "../../schema/hashing";
import type { Access } from "../../schema/package/contract";
import type { PackageRow } from "../../schema/package/rows";

// The package's own row: exactly one once the first version is published. `rev` counts committed
// writes (CouchDB's `_rev` is `${rev}-${rev_hash}`); `unpublished_at` marks a package whose every
// version was unpublished, which is then "not found" until a new version is published.

export class PackageRecord {
	constructor(private readonly sql: SqlStorage) {}

	/** The row, whether or not anything in it is still published. */
	get(): PackageRow | null {
		return this.sql.exec<PackageRow>(`SELECT * FROM package`).toArray()[0] ?? null;
	}

	/** The package, unless it was never published or everything in it was unpublished. */
	live(): PackageRow | null {
		const pkg = this.get();
		return pkg && pkg.unpublished_at === null ? pkg : null;
	}

	/** The row for a publish: created on the first one, and live again after a full unpublish. */
	claim(name: string, access: Access, now: string): PackageRow {
		const existing = this.get();
		if (existing) {
			if (existing.unpublished_at !== null) this.sql.exec(`UPDATE package SET unpublished_at = NULL`);
			return existing;
		}
		return this.sql
			.exec<PackageRow>(
				`INSERT INTO package (singleton, name, package_id, access, created_at, modified_at, rev, rev_hash, base_placeholder)
				 VALUES (1, ?, ?, ?, ?, ?, 0, '', ?) RETURNING *`,
				name,
				crypto.randomUUID(),
				access,
				now,
				now,
				// Random, so that no published text can contain it by accident or on purpose.
				`registry-base-${randomHex(16)}`,
			)
			.one();
	}

	/** The last step of every write: a new revision. */
	bumpRevision(now: string): PackageRow {
		return this.sql
			.exec<PackageRow>(
				`UPDATE package SET rev = rev + 1, rev_hash = ?, modified_at = ? RETURNING *`,
				randomHex(16),
				now,
			)
			.one();
	}

	setAccess(access: Access): void {
		this.sql.exec(`UPDATE package SET access = ?`, access);
	}

	setRequireTwoFactor(required: boolean): void {
		this.sql.exec(`UPDATE package SET require_two_factor = ?`, required ? 1 : 0);
	}

	markUnpublished(now: string): void {
		this.sql.exec(`UPDATE package SET unpublished_at = ?`, now);
	}
}

/** CouchDB's `_rev`, which npm sends back on unpublish and owner changes. */
export function revision(pkg: PackageRow): string {
	return `${pkg.rev}-${pkg.rev_hash}`;
}
