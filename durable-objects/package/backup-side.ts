import type { Actor } from "../../schema/audit";
import type { DumpCursor, PackageRows as ExportedRows, PackageHead, RestoredRows } from "../../schema/backup/contract";
import { ok, type Result } from "../../schema/errors";
import { refusals } from "../../schema/refusals";
import { recordAudit } from "../audit";
import { transact } from "../transaction";
import {
	beginRestore,
	exportHead,
	exportRevision,
	exportRows,
	removedVersions,
	restoreKeys,
	restoreRows,
} from "./export";
import type { PackageRows } from "./package-rows";

// The package object's side of the export archive and its restore (export.ts, restore-merge.ts):
// the head and rows of the package (or of a name only claimed), and a restore page by page, the
// bytes checked in R2 first, the last page building the packuments' pieces (or, for a merge into a
// package that is here, committing a new revision). The facade (package-metadata.ts) forwards.

/** The registry itself, as the actor of a merge it makes on restore. */
const REGISTRY: Actor = { name: "registry", prefix: null, ip: null, label: "registry" };

export class BackupSide {
	constructor(
		private readonly storage: DurableObjectStorage,
		private readonly env: Env,
		private readonly rows: PackageRows,
		private readonly host: { schemaReady(): boolean; ensureSchema(): void; wake(at: number): void },
	) {}

	private get sql(): SqlStorage {
		return this.storage.sql;
	}

	/** The revision of what is exported: the package's, or a claim's; null when neither is here. */
	private current(): { name: string; rev: string } | null {
		if (!this.host.schemaReady()) return null;
		const pkg = this.rows.record.get();
		const claim = this.rows.claims.get();
		const rev = exportRevision(pkg, claim !== null);
		return rev === null ? null : { name: pkg?.name ?? claim?.name ?? "", rev };
	}

	head(): Result<PackageHead> {
		const current = this.current();
		if (current === null) return refusals.packageNotFound();
		return ok(exportHead(this.sql, current.name, current.rev, this.rows.versions.all()));
	}

	page(rev: string, cursor: DumpCursor) {
		const current = this.current();
		if (current === null) return refusals.packageNotFound();
		return exportRows(this.sql, current.name, current.rev, rev, cursor);
	}

	/** The numbers removed here: `npm run migrate` from this registry keeps them taken where it copies to. */
	removedVersions() {
		return this.current() === null ? refusals.packageNotFound() : ok(removedVersions(this.sql));
	}

	begin(head: PackageHead) {
		this.host.ensureSchema();
		return transact(this.storage, () => beginRestore(this.sql, this.storage.kv, head, this.rows.record.get()));
	}

	/**
	 * A page of rows, once the bytes its versions name are in R2. The last page of a package not
	 * here brings its package row; the last of a merge commits a new revision: either way the
	 * packuments' pieces are built and the alarm tells search.
	 */
	async restore(item: ExportedRows): Promise<Result<RestoredRows>> {
		this.host.ensureSchema();
		const keys = restoreKeys(this.storage.kv, item, this.rows.record.get());
		const found = await Promise.all(keys.map((key) => this.env.BLOBS.head(key)));
		const missing = keys.find((_key, i) => found[i] === null);
		if (missing !== undefined) return refusals.blobMissing(missing);
		const result = transact(this.storage, (): Result<RestoredRows> => {
			const restored = restoreRows(this.sql, this.storage.kv, item, this.rows.record.get());
			if (!restored.ok || !item.final) return restored;
			const { merged, ...counts } = restored.value;
			let pkg = this.rows.record.get();
			if (pkg && merged) {
				recordAudit(this.sql, REGISTRY, "restore.merge", pkg.name, {
					versions: merged.copy,
					channels: merged.channelsAdded,
				});
				pkg = this.rows.record.bumpRevision(new Date().toISOString());
			}
			if (pkg) this.rows.documents.store(pkg);
			return ok(counts);
		});
		if (result.ok && item.final) this.host.wake(Date.now());
		return result;
	}
}
