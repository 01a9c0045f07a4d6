import type { PackageHead, PackageRows, RestoredRows, RestoreVerdict, Row } from "../../schema/backup/contract";
import { ok, type Result } from "../../schema/errors";
import { refusals } from "../../schema/refusals";
import { insertRows } from "../table-dump";

// Restoring into a package that exists here (issue #18: "fresh or not, same idempotency rules"):
// what the archive has and this package lacks is added, nothing here is changed. A version here
// with the same bytes is present; one here with other bytes, or removed here since, is a conflict
// (a restore never undoes a removal made here: npm never gives a removed number to other bytes);
// every other version is copied with its files, README and download counts. A channel (dist-tag)
// the package lacks here comes with its whole history, renumbered after the history here; a
// channel both have keeps its history here. The trail here is kept and says what was added; the
// maintainers and access here stay. The plan is made at the head and kept in the object's
// key-value storage (in the same transactions as the rows) until the last page; a merge of the
// same export cut short goes on from it at its next head, taking no row twice.

const KEY = "restore-merge";

/** A merge under way: the head's revision, the versions to copy, and the channels' renumbering. */
export type MergePlan = {
	rev: string;
	copy: string[];
	/** Versions here with other bytes, or removed here: none of their rows is taken. */
	conflicts: string[];
	/** The integrity of each version copied: a version published here meanwhile takes none of its rows. */
	integrity: Record<string, string>;
	/** Channels here when the merge began: theirs stay, and the archive's history of them is not added. */
	channelsHere: string[];
	/** channel_history ids: the archive's → here's. */
	ids: Record<string, number>;
	channelsAdded: string[];
};

/** Tables whose rows belong to one version: taken only for versions the merge copies. */
const PER_VERSION = new Set(["versions", "version_readmes", "files", "downloads"]);

/** The verdict on a head whose package exists here; a plan is kept when there is something to copy. */
export function beginMerge(sql: SqlStorage, kv: SyncKvStorage, head: PackageHead): RestoreVerdict {
	const here = new Map(
		sql
			.exec<{ version: string; integrity: string }>(`SELECT version, integrity FROM versions`)
			.toArray()
			.map((v) => [v.version, v.integrity]),
	);
	const removed = new Set(
		sql
			.exec<{ version: string }>(`SELECT version FROM removed_versions`)
			.toArray()
			.map((r) => r.version),
	);
	const conflicts: { version: string; reason: string }[] = [];
	const copy: string[] = [];
	for (const v of head.versions) {
		const integrity = here.get(v.version);
		if (integrity === v.integrity) continue;
		if (integrity !== undefined) conflicts.push({ version: v.version, reason: "different bytes here" });
		else if (removed.has(v.version))
			conflicts.push({ version: v.version, reason: "removed here since: a restore does not undo a removal made here" });
		else copy.push(v.version);
	}
	// A merge of the same export cut short goes on where it stopped: its plan knows what it copied.
	const previous = kv.get<MergePlan>(KEY);
	const resumed = previous?.rev === head.rev ? previous : null;
	const all = [...new Set([...(resumed?.copy ?? []), ...copy])];
	if (all.length === 0) {
		kv.delete(KEY);
		return conflicts.length === 0 ? { state: "present" } : { state: "conflict", conflicts };
	}
	const integrity = Object.fromEntries(
		head.versions.filter((v) => all.includes(v.version)).map((v) => [v.version, v.integrity]),
	);
	const channelsHere = sql
		.exec<{ name: string }>(`SELECT name FROM channels`)
		.toArray()
		.map((c) => c.name);
	const conflicted = conflicts.map((c) => c.version);
	const plan: MergePlan = resumed
		? { ...resumed, copy: all, integrity, conflicts: conflicted }
		: { rev: head.rev, copy: all, integrity, conflicts: conflicted, channelsHere, ids: {}, channelsAdded: [] };
	kv.put(KEY, plan);
	return { state: "merge", copy: all, conflicts };
}

/** The R2 keys a page of rows will point at, for the caller to check they are here first. */
export function mergeKeys(kv: SyncKvStorage, item: PackageRows): string[] {
	const plan = kv.get<MergePlan>(KEY);
	if (!plan || plan.rev !== item.rev) return [];
	const copy = new Set(plan.copy);
	const versions = item.tables.find((t) => t.table === "versions")?.rows ?? [];
	return versions
		.filter((row) => copy.has(String(row.version)))
		.flatMap((row) => [String(row.tarball_key), String(row.files_key)]);
}

/**
 * Adds what a page of the archive's rows holds that the merge takes; answers, with the last page,
 * the finished plan (the caller records it in the trail, commits a new revision and rebuilds).
 */
export function mergeRows(
	sql: SqlStorage,
	kv: SyncKvStorage,
	tables: readonly string[],
	item: PackageRows,
): Result<{ restored: RestoredRows; done: MergePlan | null }> {
	const plan = kv.get<MergePlan>(KEY);
	if (!plan || plan.rev !== item.rev) return refusals.restoreOutOfOrder(item.name);
	const copy = new Set(plan.copy);
	const channelsHere = new Set(plan.channelsHere);
	const restored: RestoredRows = { inserted: 0, present: 0, differing: 0 };
	const conflicted = new Set(plan.conflicts);
	// A version row is taken when its number is free here. The rows that belong to a version are
	// taken when the version here is the archive's: one it copies (the same integrity, so not one
	// published here meanwhile), or one here with the same bytes (rows a merge cut short did not
	// bring yet; the rest are here already and stay). Download counts only for versions it copies.
	const ours = (version: unknown) => {
		const v = String(version);
		if (conflicted.has(v)) return false;
		const here = sql.exec<{ integrity: string }>(`SELECT integrity FROM versions WHERE version = ?`, v).toArray()[0];
		return here !== undefined && (plan.integrity[v] === undefined || plan.integrity[v] === here.integrity);
	};
	const versionRows = item.tables.flatMap(({ table, rows }) =>
		table === "versions" ? [{ table, rows: rows.filter((r) => copy.has(String(r.version))) }] : [],
	);
	const versions = insertRows(sql, tables, versionRows);
	if (!versions.ok) return versions;
	// Then, the versions of this page being in, the rows that belong to them.
	const plain = item.tables.flatMap(({ table, rows }) => {
		if (table === "downloads")
			return [{ table, rows: rows.filter((r) => copy.has(String(r.version)) && ours(r.version)) }];
		if (table !== "versions" && PER_VERSION.has(table)) return [{ table, rows: rows.filter((r) => ours(r.version)) }];
		// Numbers taken at the source stay taken here, unless a version of that number is here.
		if (table === "removed_versions") return [{ table, rows: rows.filter((r) => !versionHere(sql, r.version)) }];
		return [];
	});
	const inserted = insertRows(sql, tables, plain);
	if (!inserted.ok) return inserted;
	for (const key of ["inserted", "present", "differing"] as const) {
		restored[key] += versions.value[key] + inserted.value[key];
	}
	const known = new Set(
		sql
			.exec<{ name: string }>(`SELECT name FROM pragma_table_info('channel_history')`)
			.toArray()
			.map((c) => c.name),
	);
	for (const { table, rows } of item.tables) {
		if (table === "channel_history") {
			const unknown = rows.flatMap((row) => Object.keys(row)).find((column) => !known.has(column));
			if (unknown !== undefined) return refusals.restoreInvalid(`table channel_history has no column ${unknown}`);
			for (const row of rows) {
				// Its channel is here, or this row came with a merge cut short.
				if (channelsHere.has(String(row.channel)) || plan.ids[String(row.id)] !== undefined) continue;
				const { id, previous_history_id: previous, ...rest } = row;
				const values: Row = {
					...rest,
					previous_history_id: previous === null ? null : (plan.ids[String(previous)] ?? null),
				};
				const names = Object.keys(values);
				const added = sql
					.exec<{ id: number }>(
						`INSERT INTO channel_history (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")}) RETURNING id`,
						...Object.values(values),
					)
					.one();
				plan.ids[String(id)] = added.id;
				restored.inserted += 1;
			}
		} else if (table === "channels") {
			for (const row of rows) {
				const name = String(row.name);
				if (channelsHere.has(name) || plan.channelsAdded.includes(name)) continue;
				const id = plan.ids[String(row.current_history_id)];
				const version = sql
					.exec<{ version: string }>(`SELECT version FROM channel_history WHERE id = ?`, id ?? -1)
					.toArray()[0]?.version;
				if (id === undefined || version === undefined || !versionHere(sql, version)) {
					// Its version did not come (a conflict): neither does the channel, nor its history.
					const added = Object.values(plan.ids);
					sql.exec(
						`DELETE FROM channel_history WHERE channel = ? AND id IN (SELECT value FROM json_each(?))`,
						name,
						JSON.stringify(added),
					);
					continue;
				}
				sql.exec(`INSERT INTO channels (name, current_history_id) VALUES (?, ?)`, name, id);
				plan.channelsAdded.push(name);
				restored.inserted += 1;
			}
		} else if (table === "rollouts") {
			const rollouts = rows.filter((r) => plan.channelsAdded.includes(String(r.channel)));
			const done = insertRows(sql, tables, [{ table, rows: rollouts }]);
			if (!done.ok) return done;
			restored.inserted += done.value.inserted;
		}
	}
	if (!item.final) {
		kv.put(KEY, plan);
		return ok({ restored, done: null });
	}
	kv.delete(KEY);
	return ok({ restored, done: plan });
}

function versionHere(sql: SqlStorage, version: unknown): boolean {
	return sql.exec(`SELECT 1 FROM versions WHERE version = ?`, String(version)).toArray().length > 0;
}
