import type { Actor } from "../../schema/audit";
import { ok, type Result } from "../../schema/errors";
import type { Published, PublishInput } from "../../schema/package/contract";
import { refusals } from "../../schema/refusals";
import type { StagedVersion } from "../../schema/trust/contract";
import { recordAudit } from "../audit";
import { transact } from "../transaction";
import type { PackageRows } from "./package-rows";

// The package object's side of npm stage (staged.ts holds the rows): a publish checked and kept
// aside, invisible to every read, until a maintainer approves it (published then, with the checks
// of a publish at that moment, in one transaction with the end of its staging) or rejects it, or
// it expires (the alarm, package-alarm.ts). The facade (package-metadata.ts) forwards.

export class StagedSide {
	constructor(
		private readonly storage: DurableObjectStorage,
		private readonly rows: PackageRows,
		private readonly host: {
			schemaReady(): boolean;
			ensureSchema(): void;
			wake(at: number): void;
			publish(input: PublishInput): Result<Published>;
		},
	) {}

	private find(id: string) {
		return this.host.schemaReady() ? this.rows.staged.get(id, new Date().toISOString()) : null;
	}

	stage(item: StagedVersion, input: PublishInput): Result<StagedVersion> {
		this.host.ensureSchema();
		if (this.rows.versions.isTaken(input.version)) return refusals.stagedVersionTaken(input.version);
		this.storage.transactionSync(() => this.rows.staged.put(item, input));
		this.host.wake(Date.parse(item.expiresAt));
		return ok(item);
	}

	get(id: string) {
		const staged = this.find(id);
		return staged ? ok({ item: staged.item, tarballKey: staged.input.tarball.key }) : refusals.stagedNotFound(id);
	}

	list(): StagedVersion[] {
		return this.host.schemaReady() ? this.rows.staged.list(new Date().toISOString()) : [];
	}

	approve(id: string, actor: Actor): Result<Published> {
		const staged = this.find(id);
		if (!staged) return refusals.stagedNotFound(id);
		// One transaction: the publish (as it was staged, checked as a publish is now) and the end of the staging.
		return transact(this.storage, () => {
			const published = this.host.publish(staged.input);
			if (!published.ok) return published;
			this.rows.staged.remove(id);
			recordAudit(this.storage.sql, actor, "stage.approve", staged.input.version, {
				stageId: id,
				stagedBy: staged.input.actor.label,
			});
			return published;
		});
	}

	reject(id: string, actor: Actor) {
		const staged = this.find(id);
		if (!staged) return refusals.stagedNotFound(id);
		const removedKeys = this.storage.transactionSync(() => {
			if (this.rows.record.get()) {
				recordAudit(this.storage.sql, actor, "stage.reject", staged.input.version, { stageId: id });
			}
			return this.rows.staged.remove(id);
		});
		return ok({ removedKeys });
	}
}
