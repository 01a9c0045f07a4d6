import type { PublishInput } from "../../schema/package/contract";
import type { StagedVersion } from "../../schema/trust/contract";

// A package's staged versions (npm stage publish): each one a publish, checked and with its bytes
// in R2, kept aside until someone who may publish approves it (then it is published as it was
// staged) or rejects it, or it expires (STAGE_TTL_DAYS). Invisible to every read of the package.
// The publish input can be large (a file index of thousands of entries), so it is stored in parts
// well under SQLite's 2 MB per value.

const PART_CHARS = 512 * 1024;

export type Staged = { item: StagedVersion; input: PublishInput };

export class StagedVersions {
	constructor(private readonly sql: SqlStorage) {}

	put(item: StagedVersion, input: PublishInput): void {
		this.sql.exec(
			`INSERT INTO staged (id, version, item, created_at, expires_at, tarball_key, files_key)
			 VALUES (?, ?, ?, ?, ?, ?, ?)`,
			item.id,
			item.version,
			JSON.stringify(item),
			item.createdAt,
			item.expiresAt,
			input.tarball.key,
			input.files.key,
		);
		const text = JSON.stringify(input);
		for (let at = 0, part = 0; at < text.length; at += PART_CHARS, part++) {
			this.sql.exec(
				`INSERT INTO staged_parts (id, part, body) VALUES (?, ?, ?)`,
				item.id,
				part,
				text.slice(at, at + PART_CHARS),
			);
		}
	}

	/** A staged version that has not expired. */
	get(id: string, now: string): Staged | null {
		const row = this.sql
			.exec<{ item: string }>(`SELECT item FROM staged WHERE id = ? AND expires_at > ?`, id, now)
			.toArray()[0];
		if (!row) return null;
		const text = this.sql
			.exec<{ body: string }>(`SELECT body FROM staged_parts WHERE id = ? ORDER BY part`, id)
			.toArray()
			.map((part) => part.body)
			.join("");
		return { item: JSON.parse(row.item) as StagedVersion, input: JSON.parse(text) as PublishInput };
	}

	list(now: string): StagedVersion[] {
		return this.sql
			.exec<{ item: string }>(`SELECT item FROM staged WHERE expires_at > ? ORDER BY created_at, id`, now)
			.toArray()
			.map((row) => JSON.parse(row.item) as StagedVersion);
	}

	/** Removes a staged version; answers the keys of its bytes (none once it is published: they are the version's). */
	remove(id: string): string[] {
		const keys = this.sql
			.exec<{ tarball_key: string; files_key: string }>(`SELECT tarball_key, files_key FROM staged WHERE id = ?`, id)
			.toArray()
			.flatMap((row) => [row.tarball_key, row.files_key]);
		this.sql.exec(`DELETE FROM staged_parts WHERE id = ?`, id);
		this.sql.exec(`DELETE FROM staged WHERE id = ?`, id);
		return keys;
	}

	/** Ids of the staged versions expired at `now`. */
	expired(now: string): string[] {
		return this.sql
			.exec<{ id: string }>(`SELECT id FROM staged WHERE expires_at <= ?`, now)
			.toArray()
			.map((row) => row.id);
	}

	/** When the next staged version expires (epoch ms), or null. */
	nextExpiry(): number | null {
		const row = this.sql.exec<{ at: string | null }>(`SELECT min(expires_at) AS at FROM staged`).one();
		return row.at === null ? null : Date.parse(row.at);
	}

	/** Every R2 key staged versions hold (the reindex sweep must leave them). */
	blobKeys(): string[] {
		return this.sql
			.exec<{ tarball_key: string; files_key: string }>(`SELECT tarball_key, files_key FROM staged`)
			.toArray()
			.flatMap((row) => [row.tarball_key, row.files_key]);
	}
}
