import { DurableObject } from "cloudflare:workers";
import semver from "semver";
import { packageMetadataMigrations } from "../schema/package-metadata";
import { type Refusal, type Result, refuse } from "../worker/errors";
import { randomHex } from "../worker/lib/crypto";
import type { BundledFile } from "../worker/lib/file-bundle";
import { applyMigrations } from "./migrations";
import { type ChannelState, Channels } from "./package/channels";
import {
	abbreviatedPackument,
	fullPackument,
	type PackageRow,
	type Person,
	revision,
	versionDocument,
} from "./package/documents";
import { Versions } from "./package/versions";

// One object per package name (idFromName(name)): the single writer of that package. Every rule
// about the package (a version exists once, a tag points at a real version, a channel's history
// is a chain) is checked here, and every change is one SQLite transaction.

export type Access = "public" | "restricted";

/** Who did it: shown as _npmUser, added to maintainers, written into channel history. */
export type Actor = { name: string; email?: string; label: string };

export type PublishInput = {
	name: string;
	version: string;
	/** The version manifest as the client sent it, minus what the registry owns (dist, _id, …). */
	manifest: Record<string, unknown>;
	/** Channels (dist-tags) to point at the new version. */
	tags: string[];
	/** Access level for a package created by this publish; ignored for an existing one. */
	access: Access;
	tarball: { key: string; integrity: string; shasum: string; size: number };
	files: { key: string; index: BundledFile[]; entryPath: string | null; entryIntegrity: string | null };
	unpackedSize: number;
	readme: { readme: string; filename: string } | null;
	actor: Actor;
};

export type PackageUpdate = {
	/** `_rev` the client read; must be current when versions are removed (CouchDB's optimistic check). */
	rev: string | null;
	/** The versions of the document the client sent back, with their deprecation message if any. */
	versions: Record<string, { deprecated?: string }>;
	/** Whether versions absent from the document are removed (`PUT /{name}/-rev/{rev}`, npm unpublish). */
	removeMissing: boolean;
	/** Only honoured for admins: deletes versions that channel history protects. */
	force: boolean;
	actor: Actor;
};

export type PackumentRead =
	| { found: false }
	| { found: true; access: Access; etag: string; modified: string; notModified: true }
	| {
			found: true;
			access: Access;
			etag: string;
			modified: string;
			notModified: false;
			body: string;
			placeholder: string;
	  };

export type DocumentRead = { found: false } | { found: true; access: Access; body: string | null; placeholder: string };

export type TarballRead = { found: false } | { found: true; access: Access; key: string; size: number };

export class PackageMetadataDO extends DurableObject<Env> {
	private readonly sql: SqlStorage;
	private readonly versions: Versions;
	private readonly channels: Channels;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		this.versions = new Versions(this.sql);
		this.channels = new Channels(this.sql);
		ctx.blockConcurrencyWhile(async () => {
			applyMigrations(ctx.storage, packageMetadataMigrations);
		});
	}

	// ── reads ──────────────────────────────────────────────────────────────────────────────────

	info(): { exists: false } | { exists: true; access: Access; packageId: string; name: string } {
		const pkg = this.livePackage();
		return pkg ? { exists: true, access: pkg.access, packageId: pkg.package_id, name: pkg.name } : { exists: false };
	}

	getPackument(form: "full" | "abbreviated", ifNoneMatch: string | null): PackumentRead {
		const pkg = this.livePackage();
		if (!pkg) return { found: false };
		const doc = this.sql
			.exec<{ body: string; etag: string }>(`SELECT body, etag FROM documents WHERE kind = ?`, form)
			.one();
		if (ifNoneMatch !== null && etagMatches(ifNoneMatch, doc.etag)) {
			return { found: true, access: pkg.access, etag: doc.etag, modified: pkg.modified_at, notModified: true };
		}
		return {
			found: true,
			access: pkg.access,
			etag: doc.etag,
			modified: pkg.modified_at,
			notModified: false,
			body: doc.body,
			placeholder: pkg.base_placeholder,
		};
	}

	/** One version by number, tag, or the highest version a range allows (as the npm registry does). */
	getVersionDocument(spec: string): DocumentRead {
		const pkg = this.livePackage();
		if (!pkg) return { found: false };
		const version = this.resolveSpec(spec);
		const row = version === null ? null : this.versions.get(version);
		if (!row) return { found: true, access: pkg.access, body: null, placeholder: pkg.base_placeholder };
		const body = JSON.stringify(versionDocument(pkg, row, this.versions.maintainers()));
		return { found: true, access: pkg.access, body, placeholder: pkg.base_placeholder };
	}

	getTarball(version: string): TarballRead {
		const pkg = this.livePackage();
		const row = pkg ? this.versions.get(version) : null;
		if (!pkg || !row) return { found: false };
		return { found: true, access: pkg.access, key: row.tarball_key, size: row.tarball_size };
	}

	distTags(): { found: false } | { found: true; access: Access; tags: Record<string, string> } {
		const pkg = this.livePackage();
		return pkg ? { found: true, access: pkg.access, tags: this.channels.distTags() } : { found: false };
	}

	// ── writes ─────────────────────────────────────────────────────────────────────────────────

	publish(input: PublishInput): Result<{ rev: string; versionId: string; packageId: string }> {
		return this.transact(() => {
			if (this.versions.isTaken(input.version)) {
				return refuse("versionExists", `You cannot publish over the previously published versions: ${input.version}.`);
			}
			const now = new Date().toISOString();
			const pkg = this.ensurePackage(input.name, input.access, now);
			const versionId = crypto.randomUUID();
			this.versions.insert(
				{
					version: input.version,
					version_id: versionId,
					manifest: JSON.stringify(input.manifest),
					integrity: input.tarball.integrity,
					shasum: input.tarball.shasum,
					tarball_key: input.tarball.key,
					tarball_size: input.tarball.size,
					files_key: input.files.key,
					file_count: input.files.index.length,
					unpacked_size: input.unpackedSize,
					entry_path: input.files.entryPath,
					entry_integrity: input.files.entryIntegrity,
					readme: input.readme?.readme ?? null,
					readme_filename: input.readme?.filename ?? null,
					published_at: now,
					published_by: JSON.stringify(person(input.actor)),
				},
				input.files.index,
			);
			this.versions.addMaintainer(person(input.actor));
			for (const tag of input.tags) this.channels.move(tag, input.version, input.actor.label, now);
			if (pkg.unpublished_at !== null) this.sql.exec(`UPDATE package SET unpublished_at = NULL`);
			const rev = this.commit(now);
			return { ok: true, rev, versionId, packageId: pkg.package_id };
		});
	}

	/**
	 * What npm does with a document and no attachments: `npm deprecate` sets or clears (with "")
	 * `deprecated`; `npm unpublish pkg@v` sends the document without that version. Nothing else in
	 * the document is taken: tags are repaired here, descriptions come from the tarballs.
	 */
	update(input: PackageUpdate): Result<{ rev: string; removedKeys: string[] }> {
		return this.transact(() => {
			const pkg = this.livePackage();
			if (!pkg) return refuse("notFound", "not_found");
			const stored = this.versions.all().map((row) => row.version);
			const unknown = Object.keys(input.versions).find((v) => !stored.includes(v));
			if (unknown !== undefined) {
				return refuse(
					"badRequest",
					this.versions.wasRemoved(unknown)
						? `version ${unknown} was unpublished and cannot come back`
						: `version ${unknown} cannot be added without its tarball attachment`,
				);
			}
			const missing = input.removeMissing ? stored.filter((v) => !(v in input.versions)) : [];
			if (missing.length > 0 && input.rev !== revision(pkg)) {
				return refuse("revisionMismatch", `document update conflict: _rev ${input.rev} is not current`);
			}
			if (missing.length === stored.length && stored.length > 0) {
				return refuse("badRequest", "a document update cannot remove every version; unpublish the package");
			}
			for (const [version, { deprecated }] of Object.entries(input.versions)) {
				if (deprecated !== undefined) this.versions.setDeprecated(version, deprecated === "" ? null : deprecated);
			}
			const now = new Date().toISOString();
			const removed = this.removeVersions(missing, input.force, input.actor, now);
			if (!removed.ok) return removed;
			return { ok: true, rev: this.commit(now), removedKeys: removed.keys };
		});
	}

	/** `npm unpublish pkg --force`: every version goes; their numbers stay taken. */
	unpublishPackage(rev: string, actor: Actor): Result<{ removedKeys: string[] }> {
		return this.transact(() => {
			const pkg = this.livePackage();
			if (!pkg) return refuse("notFound", "not_found");
			if (rev !== revision(pkg)) {
				return refuse("revisionMismatch", `document update conflict: _rev ${rev} is not current`);
			}
			const now = new Date().toISOString();
			const keys = this.versions.all().flatMap((row) => this.versions.remove(row.version, actor.label, now));
			for (const channel of this.channels.list()) this.channels.remove(channel.channel);
			this.sql.exec(`UPDATE package SET unpublished_at = ?`, now);
			this.commit(now);
			return { ok: true, removedKeys: keys };
		});
	}

	/** The tarball DELETE npm sends after removing a version: removes it if it is still there. */
	removeTarball(version: string, rev: string, force: boolean, actor: Actor): Result<{ removedKeys: string[] }> {
		return this.transact(() => {
			const pkg = this.livePackage();
			if (!pkg) return refuse("notFound", "not_found");
			if (this.versions.wasRemoved(version)) return { ok: true, removedKeys: [] };
			if (!this.versions.get(version)) return refuse("notFound", `version ${version} does not exist`);
			if (rev !== revision(pkg)) {
				return refuse("revisionMismatch", `document update conflict: _rev ${rev} is not current`);
			}
			const now = new Date().toISOString();
			const removed = this.removeVersions([version], force, actor, now);
			if (!removed.ok) return removed;
			this.commit(now);
			return { ok: true, removedKeys: removed.keys };
		});
	}

	setDistTag(tag: string, version: string, actor: Actor): Result<{ tags: Record<string, string> }> {
		return this.transact(() => {
			if (!this.livePackage()) return refuse("notFound", "not_found");
			if (!this.versions.get(version)) return refuse("notFound", `version ${version} does not exist`);
			const now = new Date().toISOString();
			this.channels.move(tag, version, actor.label, now);
			this.commit(now);
			return { ok: true, tags: this.channels.distTags() };
		});
	}

	deleteDistTag(tag: string): Result<{ tags: Record<string, string> }> {
		return this.transact(() => {
			if (!this.livePackage()) return refuse("notFound", "not_found");
			if (tag === "latest") return refuse("badRequest", "the latest tag cannot be deleted");
			if (!this.channels.remove(tag)) return refuse("notFound", `tag ${tag} does not exist`);
			this.commit(new Date().toISOString());
			return { ok: true, tags: this.channels.distTags() };
		});
	}

	// ── internals ──────────────────────────────────────────────────────────────────────────────

	/** Runs a write as one transaction; a refusal rolls back everything the write did before it. */
	private transact<T>(write: () => Result<T>): Result<T> {
		try {
			return this.ctx.storage.transactionSync(() => {
				const result = write();
				if (!result.ok) throw new Rollback(result);
				return result;
			});
		} catch (error) {
			if (error instanceof Rollback) return error.refusal;
			throw error;
		}
	}

	private package(): PackageRow | null {
		return this.sql.exec<PackageRow>(`SELECT * FROM package`).toArray()[0] ?? null;
	}

	/** The package, unless it was never published or everything in it was unpublished. */
	private livePackage(): PackageRow | null {
		const pkg = this.package();
		return pkg && pkg.unpublished_at === null ? pkg : null;
	}

	private ensurePackage(name: string, access: Access, now: string): PackageRow {
		const existing = this.package();
		if (existing) return existing;
		this.sql.exec(
			`INSERT INTO package (singleton, name, package_id, access, created_at, modified_at, rev, rev_hash, base_placeholder)
			 VALUES (1, ?, ?, ?, ?, ?, 0, '', ?)`,
			name,
			crypto.randomUUID(),
			access,
			now,
			now,
			`registry-base-${randomHex(16)}`,
		);
		return this.sql.exec<PackageRow>(`SELECT * FROM package`).one();
	}

	private removeVersions(
		versions: string[],
		force: boolean,
		actor: Actor,
		now: string,
	): { ok: true; keys: string[] } | Refusal {
		for (const version of versions) {
			const protecting = this.channels.protectingChannels(version);
			if (protecting.length > 0 && !force) {
				return refuse(
					"protectedVersion",
					`version ${version} is protected: it is among the last entries of the history of ${protecting
						.map((c) => `"${c}"`)
						.join(", ")}; remove it from those channels first, or an admin can delete it with force=true`,
				);
			}
		}
		const keys: string[] = [];
		for (const version of versions) {
			keys.push(...this.versions.remove(version, actor.label, now));
			this.channels.spliceVersion(version);
		}
		if (versions.length > 0) this.repairLatest(actor, now);
		return { ok: true, keys };
	}

	/** npm expects `latest` while any version exists: if splicing removed it, it goes to the highest. */
	private repairLatest(actor: Actor, now: string): void {
		if (this.channels.get("latest")) return;
		const remaining = this.versions.all().map((v) => v.version);
		const stable = remaining.filter((v) => semver.prerelease(v) === null);
		const highest = semver.rsort(stable.length > 0 ? stable : remaining)[0];
		if (highest) this.channels.move("latest", highest, actor.label, now);
	}

	private resolveSpec(spec: string): string | null {
		if (this.versions.get(spec)) return spec;
		const tagged = this.channels.get(spec);
		if (tagged) return tagged.version;
		if (semver.validRange(spec) === null) return null;
		return semver.maxSatisfying(
			this.versions.all().map((v) => v.version),
			spec,
		);
	}

	/** Bumps the revision and rebuilds the stored packuments; the last step of every write. */
	private commit(now: string): string {
		this.sql.exec(`UPDATE package SET rev = rev + 1, rev_hash = ?, modified_at = ?`, randomHex(16), now);
		const pkg = this.sql.exec<PackageRow>(`SELECT * FROM package`).one();
		const versions = this.versions.all();
		const tags = this.channels.distTags();
		const maintainers = this.versions.maintainers();
		const documents = {
			full: fullPackument(pkg, versions, tags, maintainers),
			abbreviated: abbreviatedPackument(pkg, versions, tags, maintainers),
		};
		for (const [kind, doc] of Object.entries(documents)) {
			this.sql.exec(
				`INSERT INTO documents (kind, body, etag) VALUES (?, ?, ?)
				 ON CONFLICT (kind) DO UPDATE SET body = excluded.body, etag = excluded.etag`,
				kind,
				JSON.stringify(doc),
				`"${revision(pkg)}-${kind === "full" ? "f" : "a"}"`,
			);
		}
		return revision(pkg);
	}
}

class Rollback extends Error {
	constructor(readonly refusal: Refusal) {
		super(refusal.message);
	}
}

function person(actor: Actor): Person {
	return actor.email ? { name: actor.name, email: actor.email } : { name: actor.name };
}

function etagMatches(header: string, etag: string): boolean {
	return header
		.split(",")
		.map((t) => t.trim().replace(/^W\//, ""))
		.some((t) => t === etag || t === "*");
}

export type { ChannelState };
