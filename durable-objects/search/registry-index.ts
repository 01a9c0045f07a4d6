import { DurableObject } from "cloudflare:workers";
import type { Access, Person } from "../../schema/package/contract";
import {
	type Dependents,
	type PackageSummary,
	RECENT_DOWNLOAD_DAYS,
	type Readable,
	type RegistryIndexContract,
	type RegistryOverview,
	type ReindexStatus,
	type SearchDocument,
	type SearchHit,
	type SearchQuery,
} from "../../schema/search/contract";
import { registryIndexMigrations } from "../../schema/search/migrations";
import type { IndexedPackageRow as PackageRow, ReindexRow } from "../../schema/search/rows";
import { applyMigrations } from "../migrations";
import { packageObject } from "../stubs";
import { sweepUnreferenced } from "./blob-sweep";
import { DependencyIndex } from "./dependents";
import { readableFilter } from "./readable";

// The registry's search index: one object for the whole registry (idFromName("index")), holding
// every package's latest state in SQLite with an FTS5 index over its text. It is derived state:
// package objects push their documents after each committed change (and their weekly download
// totals every few minutes), and POST /-/admin/reindex rebuilds it from the package objects.

/** bm25() weights in packages_fts column order: a word in the name outranks one in keywords… */
const WEIGHTS = "10.0, 4.0, 5.0, 2.0, 1.0, 1.0, 0.5";
const README_EXCERPT = 2_000;
const REINDEX_PAGE = 200;
/** Package objects asked per alarm run by the refresh after migration 6 (a request's subrequests are bounded). */
const REFRESH_PAGE = 100;

export class RegistryIndexDO extends DurableObject<Env> implements RegistryIndexContract {
	private readonly sql: SqlStorage;
	private readonly dependencies: DependencyIndex;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.sql = ctx.storage.sql;
		this.dependencies = new DependencyIndex(this.sql);
		ctx.blockConcurrencyWhile(async () => {
			applyMigrations(ctx.storage, registryIndexMigrations);
			// Rows from before the dependents existed are asked again from the alarm (migration 6).
			const { refresh_cursor } = this.sql.exec<ReindexRow>(`SELECT * FROM reindex`).one();
			if (refresh_cursor !== null && (await ctx.storage.getAlarm()) === null) await ctx.storage.setAlarm(Date.now());
		});
	}

	/** Stores a package's latest state; a notification older than what is stored changes nothing. */
	upsert(doc: SearchDocument): boolean {
		return this.ctx.storage.transactionSync(() => {
			const written = this.write(doc, this.generation());
			// Published again after it was unpublished entirely: a package again.
			if (written) this.sql.exec(`DELETE FROM departed WHERE name = ?`, doc.name);
			return written;
		});
	}

	/** Forgets a package that was unpublished entirely. */
	remove(name: string, rev: number): boolean {
		return this.ctx.storage.transactionSync(() => {
			const row = this.row(name);
			if (!row || row.rev > rev) return false;
			this.drop(row);
			this.sql.exec(`INSERT OR IGNORE INTO departed (name, scope) VALUES (?, ?)`, row.name, row.scope);
			return true;
		});
	}

	/** How many packages (and their versions) an export of the registry or one scope walks: for its progress. */
	exportTotals(scope: string | null): { packages: number; versions: number } {
		const inScope = scope === null ? "" : "WHERE scope = ?";
		const params = scope === null ? [] : [scope];
		const live = this.sql
			.exec<{ packages: number; versions: number | null }>(
				`SELECT count(*) AS packages, sum(version_count) AS versions FROM packages ${inScope}`,
				...params,
			)
			.one();
		const departed = this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM departed ${inScope}`, ...params).one().n;
		return { packages: live.packages + departed, versions: live.versions ?? 0 };
	}

	/** Names a name only claimed (POST /-/admin/claims): not in search, but in the export. */
	claimed(name: string): void {
		const slash = name.indexOf("/");
		this.sql.exec(
			`INSERT OR IGNORE INTO departed (name, scope) SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM packages WHERE name = ?)`,
			name,
			slash === -1 ? null : name.slice(0, slash),
			name,
		);
	}

	search(query: SearchQuery): { hits: SearchHit[]; total: number } {
		const params: (string | number)[] = [];
		const filters = this.filters(query, params);
		const exactName = query.text.trim().toLowerCase();
		const exact = query.boostExact && exactName !== "" ? "(lower(p.name) = ?)" : "0";
		if (query.terms.length === 0) {
			if (query.text.trim() !== "" && !hasQualifier(query)) return { hits: [], total: 0 };
			const where = filters.length > 0 ? `WHERE ${filters.join(" AND ")}` : "";
			const total = this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM packages p ${where}`, ...params).one().n;
			const rows = this.sql
				.exec<PackageRow & { exact: number; relevance: number }>(
					`SELECT p.*, 0 AS exact, 0.0 AS relevance FROM packages p ${where}
					 ORDER BY p.popularity DESC, p.date DESC, p.name LIMIT ? OFFSET ?`,
					...params,
					query.size,
					query.from,
				)
				.toArray();
			return { hits: rows.map(toHit), total };
		}
		const match = query.terms.map((t) => `"${t.replaceAll('"', '""')}"*`).join(" ");
		const from = `FROM packages_fts f JOIN packages p ON p.rowid = f.rowid WHERE packages_fts MATCH ?${
			filters.length > 0 ? ` AND ${filters.join(" AND ")}` : ""
		}`;
		const total = this.sql.exec<{ n: number }>(`SELECT count(*) AS n ${from}`, match, ...params).one().n;
		const exactParams = exact === "0" ? [] : [exactName];
		const rows = this.sql
			.exec<PackageRow & { exact: number; relevance: number }>(
				`SELECT p.*, ${exact} AS exact, -bm25(packages_fts, ${WEIGHTS}) AS relevance ${from}
				 ORDER BY exact DESC, relevance * (1.0 + p.popularity) DESC, p.name
				 LIMIT ? OFFSET ?`,
				...exactParams,
				match,
				...params,
				query.size,
				query.from,
			)
			.toArray();
		return { hits: rows.map(toHit), total };
	}

	/** The packages of a scope the index knows (npm access list packages). */
	packagesInScope(scope: string): { name: string; access: Access }[] {
		return this.sql
			.exec<{ name: string; access: Access }>(`SELECT name, access FROM packages WHERE scope = ? ORDER BY name`, scope)
			.toArray();
	}

	/**
	 * Names of every package the index knows, and of those unpublished entirely, in order after
	 * `after` (the export walks them).
	 */
	packageNames(after: string, limit: number, scope: string | null): string[] {
		const inScope = scope === null ? "" : "AND scope = ?";
		const params = scope === null ? [after, after, limit] : [after, scope, after, scope, limit];
		return this.sql
			.exec<{ name: string }>(
				`SELECT name FROM packages WHERE name > ? ${inScope}
				 UNION SELECT name FROM departed WHERE name > ? ${inScope}
				 ORDER BY name LIMIT ?`,
				...params,
			)
			.toArray()
			.map((r) => r.name);
	}

	/** The packages most recently published, of those the asker may read. */
	recent(readable: Readable, limit: number): PackageSummary[] {
		const params: (string | number)[] = [];
		const filter = readableFilter(readable, params);
		return this.sql
			.exec<PackageRow>(
				`SELECT * FROM packages p ${filter === null ? "" : `WHERE ${filter}`}
				 ORDER BY p.published_at DESC, p.name LIMIT ?`,
				...params,
				Math.min(limit, 100),
			)
			.toArray()
			.map(toSummary);
	}

	/** Which of these names are packages here that the asker may read. */
	known(names: string[], readable: Readable): string[] {
		const wanted = [...new Set(names)].slice(0, 500);
		if (wanted.length === 0) return [];
		const params: (string | number)[] = [...wanted];
		const filter = readableFilter(readable, params);
		return this.sql
			.exec<{ name: string }>(
				`SELECT p.name FROM packages p WHERE p.name IN (${wanted.map(() => "?").join(", ")})${
					filter === null ? "" : ` AND ${filter}`
				}`,
				...params,
			)
			.toArray()
			.map((row) => row.name);
	}

	/** The packages the asker may read whose latest version depends on `name`: the first `limit`, and the count. */
	dependents(name: string, readable: Readable, limit: number): Dependents {
		return this.dependencies.dependents(name, readable, limit);
	}

	/** Registry-wide figures for the dashboard: every package counts, whatever its access. */
	overview(today: string): RegistryOverview {
		const totals = this.sql
			.exec<{ packages: number; versions: number | null; weekly: number | null }>(
				`SELECT count(*) AS packages, sum(version_count) AS versions, sum(weekly_downloads) AS weekly FROM packages`,
			)
			.one();
		const end = Date.parse(`${today}T00:00:00Z`);
		const days = Array.from({ length: RECENT_DOWNLOAD_DAYS }, (_, i) =>
			new Date(end - (RECENT_DOWNLOAD_DAYS - 1 - i) * 86_400_000).toISOString().slice(0, 10),
		);
		const perDay = new Map(
			this.sql
				.exec<{ day: string; downloads: number }>(
					`SELECT day, sum(downloads) AS downloads FROM package_downloads WHERE day >= ? GROUP BY day`,
					days[0] ?? today,
				)
				.toArray()
				.map((row) => [row.day, row.downloads]),
		);
		const list = (order: string) =>
			this.sql.exec<PackageRow>(`SELECT * FROM packages ORDER BY ${order} LIMIT 10`).toArray().map(toSummary);
		return {
			packages: totals.packages,
			versions: totals.versions ?? 0,
			weeklyDownloads: totals.weekly ?? 0,
			downloadsPerDay: days.map((day) => ({ day, downloads: perDay.get(day) ?? 0 })),
			top: list("weekly_downloads DESC, name"),
			recent: list("published_at DESC, name"),
		};
	}

	// ── rebuilding ─────────────────────────────────────────────────────────────────────────────

	/** Starts (or restarts) a rebuild from the package objects; it runs in alarm-sized batches. */
	async startReindex(): Promise<ReindexStatus> {
		const generation = this.generation() + 1;
		this.sql.exec(
			`UPDATE reindex SET generation = ?, state = 'running', cursor = NULL, seen = 0, swept = 0, started_at = ?, finished_at = NULL`,
			generation,
			new Date().toISOString(),
		);
		await this.ctx.storage.setAlarm(Date.now());
		return this.reindexStatus();
	}

	reindexStatus(): ReindexStatus {
		const row = this.sql.exec<ReindexRow>(`SELECT * FROM reindex`).one();
		const indexed = this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM packages`).one().n;
		return {
			state: row.state,
			generation: row.generation,
			packagesSeen: row.seen,
			indexed,
			swept: row.swept,
			startedAt: row.started_at,
			finishedAt: row.finished_at,
		};
	}

	/**
	 * One batch of a rebuild. Package names come from R2, where every published version has bytes
	 * under tarballs/{name}/…: listing keys is the one registry-wide view that does not depend on
	 * this index. Each package object is asked for its current document, and the package's bytes
	 * that no version references are swept (blob-sweep.ts).
	 */
	override async alarm(): Promise<void> {
		const state = this.sql.exec<ReindexRow>(`SELECT * FROM reindex`).one();
		if (state.state !== "running") {
			if (state.refresh_cursor !== null) await this.refreshStep(state.refresh_cursor);
			return;
		}
		const page = await this.env.BLOBS.list({
			prefix: "tarballs/",
			limit: REINDEX_PAGE,
			...(state.cursor ? { cursor: state.cursor } : {}),
		});
		const names = [...new Set(page.objects.map((o) => packageNameOfKey(o.key)).filter((n) => n !== null))];
		const [docs, swept] = await Promise.all([
			Promise.all(names.map((name) => packageObject(this.env, name).searchDocument())),
			sweepUnreferenced(this.env, names),
		]);
		this.ctx.storage.transactionSync(() => {
			for (const doc of docs) if (doc.ok) this.write(doc.value, state.generation, true);
			this.sql.exec(`UPDATE reindex SET swept = swept + ?`, swept);
			if (page.truncated) {
				this.sql.exec(`UPDATE reindex SET cursor = ?, seen = seen + ?`, page.cursor, names.length);
				return;
			}
			for (const stale of this.sql
				.exec<PackageRow>(`SELECT * FROM packages WHERE generation < ?`, state.generation)
				.toArray()) {
				this.drop(stale);
			}
			// A whole rebuild asked every package: nothing is left for the refresh of migration 6 either.
			this.sql.exec(
				`UPDATE reindex SET state = 'idle', cursor = NULL, refresh_cursor = NULL, seen = seen + ?, finished_at = ?`,
				names.length,
				new Date().toISOString(),
			);
		});
		if (page.truncated) await this.ctx.storage.setAlarm(Date.now());
	}

	/**
	 * One page of the refresh that migration 6 asks for: the packages the index knew before it
	 * stored dependencies are asked for their current document again (no R2 listing, no sweep).
	 */
	private async refreshStep(after: string): Promise<void> {
		const names = this.sql
			.exec<{ name: string }>(`SELECT name FROM packages WHERE name > ? ORDER BY name LIMIT ?`, after, REFRESH_PAGE)
			.toArray()
			.map((row) => row.name);
		const docs = await Promise.all(names.map((name) => packageObject(this.env, name).searchDocument()));
		const more = names.length === REFRESH_PAGE;
		this.ctx.storage.transactionSync(() => {
			const generation = this.generation();
			for (const doc of docs) if (doc.ok) this.write(doc.value, generation);
			this.sql.exec(`UPDATE reindex SET refresh_cursor = ?`, more ? (names.at(-1) ?? null) : null);
		});
		if (more) await this.ctx.storage.setAlarm(Date.now());
	}

	// ── internals ──────────────────────────────────────────────────────────────────────────────

	private generation(): number {
		return this.sql.exec<{ generation: number }>(`SELECT generation FROM reindex`).one().generation;
	}

	private row(name: string): PackageRow | null {
		return this.sql.exec<PackageRow>(`SELECT * FROM packages WHERE name = ?`, name).toArray()[0] ?? null;
	}

	/** Writes one document; `rebuild` also refreshes rows whose revision did not change. */
	private write(doc: SearchDocument, generation: number, rebuild = false): boolean {
		const existing = this.row(doc.name);
		if (
			existing &&
			(existing.rev > doc.rev || (rebuild && existing.rev === doc.rev && existing.generation === generation))
		) {
			return false;
		}
		const popularity = Math.min(1, Math.log10(1 + doc.weeklyDownloads) / 6);
		const keywords = [...new Set(doc.keywords.map((k) => k.toLowerCase()))];
		const row = this.sql
			.exec<{ rowid: number }>(
				`INSERT INTO packages (name, scope, version, description, keywords, author, publisher, maintainers, links,
					date, access, deprecated, quality, weekly_downloads, popularity, rev, generation, author_name, publisher_name,
					version_count, published_at)
				 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				 ON CONFLICT (name) DO UPDATE SET scope = excluded.scope, version = excluded.version,
					description = excluded.description, keywords = excluded.keywords, author = excluded.author,
					publisher = excluded.publisher, maintainers = excluded.maintainers, links = excluded.links,
					date = excluded.date, access = excluded.access, deprecated = excluded.deprecated,
					quality = excluded.quality, weekly_downloads = excluded.weekly_downloads,
					popularity = excluded.popularity, rev = excluded.rev, generation = excluded.generation,
					author_name = excluded.author_name, publisher_name = excluded.publisher_name,
					version_count = excluded.version_count, published_at = excluded.published_at
				 RETURNING rowid`,
				doc.name,
				doc.scope,
				doc.version,
				doc.description,
				JSON.stringify(doc.keywords),
				doc.author === null ? null : JSON.stringify(doc.author),
				JSON.stringify(doc.publisher),
				JSON.stringify(doc.maintainers),
				JSON.stringify(doc.links),
				doc.date,
				doc.access,
				doc.deprecated,
				quality(doc),
				doc.weeklyDownloads,
				popularity,
				doc.rev,
				generation,
				doc.author?.name.toLowerCase() ?? null,
				doc.publisher.username.toLowerCase(),
				doc.versionCount,
				doc.publishedAt || doc.date,
			)
			.one();
		this.sql.exec(`DELETE FROM package_downloads WHERE name = ?`, doc.name);
		for (const { day, downloads } of doc.dailyDownloads.slice(-RECENT_DOWNLOAD_DAYS)) {
			this.sql.exec(`INSERT INTO package_downloads (day, name, downloads) VALUES (?, ?, ?)`, day, doc.name, downloads);
		}
		this.sql.exec(`DELETE FROM package_keywords WHERE name = ?`, doc.name);
		for (const keyword of keywords) {
			this.sql.exec(`INSERT INTO package_keywords (name, keyword) VALUES (?, ?)`, doc.name, keyword);
		}
		this.sql.exec(`DELETE FROM package_maintainers WHERE name = ?`, doc.name);
		for (const username of new Set(doc.maintainers.map((m) => m.username.toLowerCase()))) {
			this.sql.exec(`INSERT INTO package_maintainers (name, username) VALUES (?, ?)`, doc.name, username);
		}
		this.dependencies.write(doc.name, doc.dependencies);
		this.sql.exec(`DELETE FROM packages_fts WHERE rowid = ?`, row.rowid);
		this.sql.exec(
			`INSERT INTO packages_fts (rowid, name, scope, keywords, description, author, maintainers, readme)
			 VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			row.rowid,
			doc.name,
			doc.scope ?? "",
			doc.keywords.join(" "),
			doc.description,
			doc.author?.name ?? "",
			doc.maintainers.map((m) => m.username).join(" "),
			doc.readme.slice(0, README_EXCERPT),
		);
		return true;
	}

	private drop(row: PackageRow): void {
		this.sql.exec(`DELETE FROM packages_fts WHERE rowid = ?`, row.rowid);
		this.sql.exec(`DELETE FROM package_keywords WHERE name = ?`, row.name);
		this.sql.exec(`DELETE FROM package_maintainers WHERE name = ?`, row.name);
		this.sql.exec(`DELETE FROM package_downloads WHERE name = ?`, row.name);
		this.dependencies.drop(row.name);
		this.sql.exec(`DELETE FROM packages WHERE rowid = ?`, row.rowid);
	}

	/** SQL conditions for the qualifiers and for what the asker may read. */
	private filters(query: SearchQuery, params: (string | number)[]): string[] {
		const filters: string[] = [];
		const readable = readableFilter(query.readable, params);
		if (readable !== null) filters.push(readable);
		// Qualifiers are written as IN (…) over their own indexes, so SQLite starts from the few
		// matching names instead of testing every package.
		if (query.keywords.length > 0) {
			filters.push(
				`p.name IN (SELECT name FROM package_keywords WHERE keyword IN (${query.keywords.map(() => "?").join(", ")}))`,
			);
			params.push(...query.keywords);
		}
		if (query.author !== null) {
			filters.push(
				"p.rowid IN (SELECT rowid FROM packages WHERE author_name = ? UNION SELECT rowid FROM packages WHERE publisher_name = ?)",
			);
			params.push(query.author, query.author);
		}
		if (query.maintainer !== null) {
			filters.push("p.name IN (SELECT name FROM package_maintainers WHERE username = ?)");
			params.push(query.maintainer);
		}
		if (query.scope !== null) {
			filters.push("p.scope = ?");
			params.push(query.scope);
		}
		if (query.deprecated !== null) filters.push(query.deprecated ? "p.deprecated IS NOT NULL" : "p.deprecated IS NULL");
		if (query.unstable !== null) filters.push(query.unstable ? "p.version LIKE '0.%'" : "p.version NOT LIKE '0.%'");
		return filters;
	}
}

function toSummary(row: PackageRow): PackageSummary {
	return {
		name: row.name,
		version: row.version,
		description: row.description,
		keywords: JSON.parse(row.keywords) as string[],
		access: row.access,
		publishedAt: row.published_at ?? row.date,
		weeklyDownloads: row.weekly_downloads,
		versionCount: row.version_count,
	};
}

function hasQualifier(query: SearchQuery): boolean {
	return (
		query.keywords.length > 0 ||
		query.author !== null ||
		query.maintainer !== null ||
		query.scope !== null ||
		query.deprecated !== null ||
		query.unstable !== null
	);
}

/** How complete a package's metadata is, in [0, 1]: what npm's "quality" rewards. */
function quality(doc: SearchDocument): number {
	let score = 0;
	if (doc.description.trim() !== "") score += 0.3;
	if (doc.readme.length > 200) score += 0.3;
	else if (doc.readme.length > 0) score += 0.15;
	if (doc.keywords.length > 0) score += 0.1;
	if (doc.links.repository) score += 0.15;
	if (doc.license) score += 0.15;
	return Math.round(score * 100) / 100;
}

/** `tarballs/{name}/{version}/{attempt}.tgz` → name; scoped names span two segments. */
function packageNameOfKey(key: string): string | null {
	const parts = key.slice("tarballs/".length).split("/");
	const name = parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1] ?? ""}` : parts[0];
	return name && parts.length >= (name.includes("/") ? 4 : 3) ? name : null;
}

function toHit(row: PackageRow & { exact: number; relevance: number }): SearchHit {
	return {
		name: row.name,
		scope: row.scope,
		version: row.version,
		description: row.description,
		keywords: JSON.parse(row.keywords) as string[],
		author: row.author === null ? null : (JSON.parse(row.author) as Person),
		publisher: JSON.parse(row.publisher) as SearchHit["publisher"],
		maintainers: JSON.parse(row.maintainers) as SearchHit["maintainers"],
		links: JSON.parse(row.links) as Record<string, string>,
		date: row.date,
		deprecated: row.deprecated,
		quality: row.quality,
		popularity: row.popularity,
		weeklyDownloads: row.weekly_downloads,
		exact: row.exact === 1,
		relevance: row.relevance,
	};
}
