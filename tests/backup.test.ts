import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { exportPage, firstCursor } from "../durable-objects/backup/export-pager";
import { PACKAGE_TABLES } from "../durable-objects/package/export";
import { dumpTables } from "../durable-objects/table-dump";
import {
	EXPORT_PAGE_CALLS,
	type ExportItem,
	type PackageHead,
	type PackageRows,
	type Row,
} from "../schema/backup/contract";
import { sha256Hex } from "../schema/hashing";
import { packageStub, publishInput, runPackageAlarm } from "./helpers/package-object";
import { ADMIN, ALL, call, createToken, publish, readPackument, uniqueName } from "./helpers/registry";

// Issue #18: the export API (admins only, paged within a bounded number of object calls) and the
// restore API (a package restored where nothing is, present when identical, a conflict when here
// with other bytes; the auth store's tokens pushed so they authenticate).

type Page = { format: number; items: ExportItem[]; next: string | null; calls: number };

async function exportAll(scope: string): Promise<{ pages: Page[]; items: ExportItem[] }> {
	const pages: Page[] = [];
	let next: string | null = null;
	do {
		const query: string = next === null ? `scope=${encodeURIComponent(scope)}` : `cursor=${next}`;
		const res = await call(`/-/admin/export?${query}`, { token: ADMIN });
		expect(res.status).toBe(200);
		const page = (await res.json()) as Page;
		pages.push(page);
		next = page.next;
	} while (next !== null);
	return { pages, items: pages.flatMap((p) => p.items) };
}

function packageItems(items: ExportItem[], name: string): ExportItem[] {
	return items.filter((item) => item.kind !== "auth" && item.kind !== "hooks" && item.name === name);
}

/** The same package's items under another name: a fresh object to restore into, in this one workerd. */
function renamed(items: ExportItem[], to: string): ExportItem[] {
	return items.map((item) => {
		if (item.kind === "auth" || item.kind === "hooks") return item;
		if (item.kind === "package") return { ...item, name: to };
		const tables = item.tables.map(({ table, rows }) => ({
			table,
			rows: table === "package" || table === "claim" ? rows.map((row) => ({ ...row, name: to })) : rows,
		}));
		return { ...item, name: to, tables };
	});
}

/** The items as an export made before `version` and `channel` existed: the state an older backup holds. */
function without(items: ExportItem[], version: string, channel: string): ExportItem[] {
	const perVersion = ["versions", "version_readmes", "files", "downloads"];
	return items.map((item) => {
		if (item.kind === "auth" || item.kind === "hooks") return item;
		if (item.kind === "package") return { ...item, versions: item.versions.filter((v) => v.version !== version) };
		const history = item.tables.find((t) => t.table === "channel_history")?.rows ?? [];
		const kept = history.filter((r) => r.channel !== channel && r.version !== version);
		const tables = item.tables.map(({ table, rows }) => {
			if (perVersion.includes(table)) return { table, rows: rows.filter((r) => r.version !== version) };
			if (table === "channel_history") return { table, rows: kept };
			if (table !== "channels") return { table, rows };
			const last = (name: unknown) => Math.max(...kept.filter((r) => r.channel === name).map((r) => Number(r.id)));
			const channels = rows.filter((r) => r.name !== channel);
			return { table, rows: channels.map((r) => ({ ...r, current_history_id: last(r.name) })) };
		});
		return { ...item, tables };
	});
}

async function restore(item: ExportItem) {
	return call("/-/admin/restore", { method: "POST", token: ADMIN, body: JSON.stringify(item) });
}

async function restoreAll(items: ExportItem[]): Promise<unknown[]> {
	const answers: unknown[] = [];
	for (const item of items) {
		const res = await restore(item);
		if (res.status !== 200) throw new Error(`restore ${item.kind}: ${res.status} ${await res.text()}`);
		answers.push(await res.json());
	}
	return answers;
}

/** A scoped package with two versions, a deprecation, a channel moved twice, restricted; indexed. */
async function richPackage(scope: string) {
	const name = `${scope}/rich`;
	const token = (await createToken([{ scope, permissions: ALL }])).token;
	expect((await publish(name, "1.0.0", token, { access: "restricted" })).status).toBe(201);
	expect((await publish(name, "1.1.0", token)).status).toBe(201);
	const path = `/packages/${name}/channels/stable`;
	for (const version of ["1.0.0", "1.1.0"]) {
		const moved = await call(path, { method: "POST", token, body: JSON.stringify({ version }) });
		expect(moved.status).toBe(201);
	}
	const doc = await readPackument(name);
	const deprecated = structuredClone(doc);
	(deprecated.versions["1.0.0"] as Record<string, unknown>).deprecated = "use 1.1.0";
	const put = await call(`/${name.replace("/", "%2f")}/-rev/${doc._rev}`, {
		method: "PUT",
		token,
		body: JSON.stringify(deprecated),
	});
	expect(put.status).toBe(200);
	await runPackageAlarm(name);
	return { name, token };
}

async function history(name: string, channel: string, token = ADMIN) {
	const res = await call(`/packages/${name}/channels/${channel}/history`, { token });
	expect(res.status).toBe(200);
	const { history: entries } = (await res.json()) as { history: Record<string, unknown>[] };
	return entries.map(({ versionId: _versionId, ...rest }) => rest);
}

describe("export (#18)", () => {
	it("answers admins only: 401 without a token, 403 for a developer token, for pages and for bytes", async () => {
		const developer = (await createToken([{ scope: "@someone", permissions: ALL }])).token;
		for (const path of ["/-/admin/export", "/-/admin/export/blob?key=tarballs/a/1.0.0/x.tgz"]) {
			expect((await call(path)).status).toBe(401);
			expect((await call(path, { token: developer })).status).toBe(403);
		}
		const restoring = await call("/-/admin/restore", { method: "POST", token: developer, body: "{}" });
		expect(restoring.status).toBe(403);
	});

	it("exports the auth store first, then each package as its head, its rows and last its package row", async () => {
		const scope = `@${uniqueName("bk")}`;
		const { name } = await richPackage(scope);
		const { items } = await exportAll(scope);
		expect(items[0]?.kind).toBe("auth");
		const mine = packageItems(items, name);
		expect(mine[0]?.kind).toBe("package");
		const head = mine[0] as PackageHead;
		expect(head.versions.map((v) => v.version)).toEqual(["1.0.0", "1.1.0"]);
		const rows = mine.slice(1) as PackageRows[];
		expect(rows.at(-1)?.final).toBe(true);
		expect(rows.at(-1)?.tables.at(-1)?.table).toBe("package");
		const tables = new Set(rows.flatMap((r) => r.tables.map((t) => t.table)));
		for (const table of ["versions", "files", "channel_history", "channels", "audit", "maintainers", "package"]) {
			expect(tables).toContain(table);
		}
		// Derived and cached state stays behind.
		expect(tables).not.toContain("documents");
		expect(tables).not.toContain("index_outbox");
		const blob = await call(`/-/admin/export/blob?key=${encodeURIComponent(head.versions[0]?.tarballKey ?? "")}`, {
			token: ADMIN,
		});
		expect(blob.status).toBe(200);
		expect((await blob.arrayBuffer()).byteLength).toBe(head.versions[0]?.tarballSize);
	});

	it("makes at most EXPORT_PAGE_CALLS object calls a page, counted at the stubs, and follows its cursor to the end", async () => {
		const scope = `@${uniqueName("bkcalls")}`;
		const names: string[] = [];
		for (let i = 0; i < 12; i += 1) {
			const name = `${scope}/p${i}`;
			names.push(name);
			const published = await packageStub(name).publish(publishInput(name, "1.0.0"));
			expect(published.ok).toBe(true);
			await runPackageAlarm(name);
		}
		let counted = 0;
		const count = <T>(value: T): T => {
			counted += 1;
			return value;
		};
		const index = env.INDEX.get(env.INDEX.idFromName("index"));
		const auth = env.AUTH.get(env.AUTH.idFromName("auth"));
		const hooks = env.HOOKS.get(env.HOOKS.idFromName("hooks"));
		const sources = {
			packageNames: (after: string, limit: number, s: string | null) => count(index.packageNames(after, limit, s)),
			exportHead: (name: string) => count(packageStub(name).exportHead()),
			exportRows: (name: string, rev: string, cursor: { table: number; offset: number }) =>
				count(packageStub(name).exportRows(rev, cursor)),
			exportAuth: (cursor: { table: number; offset: number }) => count(auth.exportRows(cursor)),
			exportHooks: (cursor: { table: number; offset: number }) => count(hooks.exportRows(cursor)),
		};
		const budget = { calls: 7, bytes: 8 * 1024 * 1024 };
		const seen: string[] = [];
		let cursor = firstCursor(scope);
		for (let pages = 0; pages < 100; pages += 1) {
			counted = 0;
			const page = await exportPage(sources, cursor, budget);
			expect(counted).toBe(page.calls);
			expect(page.calls).toBeLessThanOrEqual(budget.calls);
			for (const item of page.items) if (item.kind === "package") seen.push(item.name);
			if (page.next === null) break;
			cursor = page.next;
		}
		expect(seen).toEqual([...names].sort());
		// The API's own pages keep the default budget.
		const { pages } = await exportAll(scope);
		for (const page of pages) expect(page.calls).toBeLessThanOrEqual(EXPORT_PAGE_CALLS);
	});

	it("keeps a page of rows within its bytes (one row at least) and its rows, and loses or repeats no row across pages", async () => {
		const name = uniqueName("bkdump");
		for (const version of ["1.0.0", "1.0.1", "1.0.2"]) {
			const input = publishInput(name, version, { readme: { readme: "r".repeat(3_000), filename: "README.md" } });
			expect((await packageStub(name).publish(input)).ok).toBe(true);
		}
		const { pages, whole } = await runInDurableObject(packageStub(name), (_instance, state) => {
			const sql = state.storage.sql;
			const pages = [];
			let cursor: { table: number; offset: number } | null = { table: 0, offset: 0 };
			while (cursor !== null) {
				const page = dumpTables(sql, PACKAGE_TABLES, cursor, { bytes: 2_000, rows: 3 });
				pages.push(page.tables);
				cursor = page.next;
			}
			const whole = PACKAGE_TABLES.map((t) => ({
				table: t.name,
				rows: sql.exec(`SELECT * FROM ${t.name} ORDER BY ${t.order}`).toArray(),
			})).filter((t) => t.rows.length > 0);
			return { pages, whole };
		});
		for (const page of pages) {
			const rows = page.flatMap((t) => t.rows);
			expect(rows.length).toBeGreaterThanOrEqual(1);
			expect(rows.length).toBeLessThanOrEqual(3);
			if (rows.length > 1) expect(JSON.stringify(rows).length).toBeLessThanOrEqual(2_000 + rows.length);
		}
		// Each version row (a 3 kB README) is over the page's bytes: alone on its page.
		const versionPages = pages.filter((p) => p.some((t) => t.table === "versions"));
		expect(versionPages).toHaveLength(3);
		const joined = new Map<string, unknown[]>();
		for (const { table, rows } of pages.flat()) joined.set(table, [...(joined.get(table) ?? []), ...rows]);
		expect([...joined].map(([table, rows]) => ({ table, rows }))).toEqual(whole);
	});

	it("pages a package whose rows outgrow one page, and restores it whole", async () => {
		const scope = `@${uniqueName("bkbig")}`;
		const name = `${scope}/many-files`;
		const index = Array.from({ length: 2_500 }, (_, i) => ({
			path: `lib/file-${String(i).padStart(5, "0")}.js`,
			offset: i * 10,
			size: 10,
			sha256: "0".repeat(64),
		}));
		const input = publishInput(name, "1.0.0");
		const published = await packageStub(name).publish({ ...input, files: { ...input.files, index } });
		expect(published.ok).toBe(true);
		await env.BLOBS.put(input.tarball.key, "0123456789");
		await env.BLOBS.put(input.files.key, "bundle");
		await runPackageAlarm(name);
		const { items } = await exportAll(scope);
		const rows = packageItems(items, name).filter((i): i is PackageRows => i.kind === "rows");
		expect(rows.length).toBeGreaterThan(1);
		const files = rows.flatMap((r) => r.tables.filter((t) => t.table === "files").flatMap((t) => t.rows));
		expect(files).toHaveLength(2_500);
		const copy = `${scope}/many-files-copy`;
		await restoreAll(renamed(packageItems(items, name), copy));
		const file = await call(`/packages/${copy}/versions/1.0.0`, { token: ADMIN });
		expect(file.status).toBe(200);
		const restoredFiles = await packageStub(copy).file("1.0.0", "lib/file-02499.js");
		expect(restoredFiles.ok).toBe(true);
	});
});

describe("restore (#18)", () => {
	it("restores a package where nothing is: versions, deprecation, tags, channel history and restricted access identical", async () => {
		const scope = `@${uniqueName("bkrt")}`;
		const { name } = await richPackage(scope);
		const { items } = await exportAll(scope);
		const copy = `${scope}/copy`;
		const answers = await restoreAll(renamed(packageItems(items, name), copy));
		expect(answers[0]).toEqual({ state: "fresh" });
		// The registry's audit log says who exported and who restored the package.
		const audit = await call("/-/admin/audit?limit=1000", { token: ADMIN });
		const { entries } = (await audit.json()) as { entries: { action: string; target: string | null }[] };
		expect(entries.some((e) => e.action === "export" && e.target === scope)).toBe(true);
		expect(entries.some((e) => e.action === "restore.package" && e.target === copy)).toBe(true);
		const [before, after] = [await readPackument(name), await readPackument(copy)];
		expect(after["dist-tags"]).toEqual(before["dist-tags"]);
		expect(after.time).toEqual(before.time);
		expect(after._rev).toEqual(before._rev);
		expect(after.versions["1.0.0"]?.deprecated).toBe("use 1.1.0");
		expect(after.versions["1.1.0"]?.dist.integrity).toBe(before.versions["1.1.0"]?.dist.integrity);
		expect(await history(copy, "stable")).toEqual(await history(name, "stable"));
		// Restricted stays restricted: anonymous readers get the same 404 as for the original.
		expect((await call(`/${copy.replace("/", "%2f")}`)).status).toBe(404);
		const tarball = await call(`/${copy}/-/copy-1.1.0.tgz`, { token: ADMIN });
		expect(tarball.status).toBe(200);
		const original = await call(`/${name}/-/rich-1.1.0.tgz`, { token: ADMIN });
		expect(new Uint8Array(await tarball.arrayBuffer())).toEqual(new Uint8Array(await original.arrayBuffer()));
	});

	it("is idempotent: a package already identical is present, and nothing of it is written again", async () => {
		const scope = `@${uniqueName("bkidem")}`;
		const { name } = await richPackage(scope);
		const { items } = await exportAll(scope);
		const before = await readPackument(name);
		const head = packageItems(items, name)[0] as PackageHead;
		const answer = await restore(head);
		expect(await answer.json()).toEqual({ state: "present" });
		// Rows sent anyway are refused: the package exists, nothing is overwritten.
		const rows = packageItems(items, name)[1] as PackageRows;
		const refused = await restore(rows);
		expect(refused.status).toBe(409);
		expect((await readPackument(name))._rev).toBe(before._rev);
	});

	it("reports a version here with other bytes as a conflict and changes nothing", async () => {
		const scope = `@${uniqueName("bkconf")}`;
		const { name } = await richPackage(scope);
		const { items } = await exportAll(scope);
		const head = packageItems(items, name)[0] as PackageHead;
		const tampered: PackageHead = {
			...head,
			versions: head.versions.map((v) => (v.version === "1.1.0" ? { ...v, integrity: "sha512-other" } : v)),
		};
		const answer = await restore(tampered);
		expect(await answer.json()).toEqual({
			state: "conflict",
			conflicts: [{ version: "1.1.0", reason: "different bytes here" }],
		});
	});

	it("refuses rows whose versions have no bytes here, and tables or columns the object does not have", async () => {
		const scope = `@${uniqueName("bkbad")}`;
		const { name } = await richPackage(scope);
		const { items } = await exportAll(scope);
		const copy = `${scope}/nobytes`;
		const [head, ...rows] = renamed(packageItems(items, name), copy) as [PackageHead, ...PackageRows[]];
		expect(await (await restore(head)).json()).toEqual({ state: "fresh" });
		const first = rows[0] as PackageRows;
		const withoutBytes = {
			...first,
			tables: first.tables.map((t) =>
				t.table === "versions"
					? { ...t, rows: t.rows.map((r: Row) => ({ ...r, tarball_key: `tarballs/${copy}/9.9.9/none.tgz` })) }
					: t,
			),
		};
		const missing = await restore(withoutBytes);
		expect(missing.status).toBe(422);
		expect(((await missing.json()) as { error: string }).error).toContain("are not in this registry");
		const unknown = await restore({ ...first, tables: [{ table: "_migrations", rows: [{ version: 99 }] }] });
		expect(unknown.status).toBe(422);
		const column = await restore({ ...first, tables: [{ table: "maintainers", rows: [{ "name) --": "x" }] }] });
		expect(column.status).toBe(422);
		// Nothing was served meanwhile: the package row never came.
		expect((await call(`/${copy.replace("/", "%2f")}`, { token: ADMIN })).status).toBe(404);
	});

	it("restores the auth store's tokens as hashes and pushes them, so a token made before the export authenticates", async () => {
		const scope = `@${uniqueName("bkauth")}`;
		await richPackage(scope);
		const { items } = await exportAll(scope);
		const auth = items.filter((i) => i.kind === "auth");
		// Everything already here: nothing inserted.
		for (const item of auth) {
			const res = await restore(item);
			expect(res.status).toBe(200);
			expect(((await res.json()) as { inserted: number }).inserted).toBe(0);
		}
		// A token that only the archive knows (as a fresh instance would see it): restored, it works.
		const secret = `dev_${crypto.randomUUID().replaceAll("-", "")}`;
		const tokens = auth.flatMap((i) => i.tables.filter((t) => t.table === "tokens").flatMap((t) => t.rows));
		const model = tokens.find((row) => row.revoked_at === null && row.kind === "developer");
		expect(model).toBeDefined();
		const fresh = { ...model, id: crypto.randomUUID(), hash: await sha256Hex(secret), prefix: secret.slice(0, 12) };
		// Asked of its object, not over HTTP: the Worker would remember the miss for its cache's 30 s.
		const tokenObject = env.TOKENS.get(env.TOKENS.idFromName(fresh.hash));
		expect((await tokenObject.get()).ok).toBe(false);
		const res = await restore({
			kind: "auth",
			schema: auth[0]?.schema ?? 0,
			final: true,
			tables: [{ table: "tokens", rows: [fresh as Row] }],
		});
		expect(res.status).toBe(200);
		expect(((await res.json()) as { inserted: number }).inserted).toBe(1);
		expect((await call("/-/whoami", { token: secret })).status).toBe(200);
	});

	it("refuses rows of a newer schema than this registry's, a cursor it did not give out, and a malformed scope", async () => {
		const scope = `@${uniqueName("bknew")}`;
		const { name } = await richPackage(scope);
		const { items } = await exportAll(scope);
		const head = packageItems(items, name)[0] as PackageHead;
		const newer = await restore({ ...head, name: `${scope}/newer`, schema: 999 });
		expect(newer.status).toBe(422);
		expect(((await newer.json()) as { error: string }).error).toContain("upgrade the registry first");
		expect((await call("/-/admin/export?cursor=not-a-cursor", { token: ADMIN })).status).toBe(400);
		expect((await call("/-/admin/export?scope=nope", { token: ADMIN })).status).toBe(400);
	});

	it("takes bytes once: the same size again is present, other bytes under the key a conflict, a wrong sha1 refused", async () => {
		const key = `tarballs/${uniqueName("bkblob")}/1.0.0/a.tgz`;
		const put = (body: string, sha1?: string) =>
			call(`/-/admin/restore/blob?key=${encodeURIComponent(key)}${sha1 ? `&sha1=${sha1}` : ""}`, {
				method: "PUT",
				token: ADMIN,
				body,
				headers: { "content-type": "application/octet-stream" },
			});
		const wrongSha1 = "0".repeat(40);
		expect((await put("twelve bytes", wrongSha1)).status).toBe(422);
		expect(await env.BLOBS.head(key)).toBeNull();
		expect((await put("twelve bytes")).status).toBe(201);
		const again = await put("twelve bytes");
		expect(again.status).toBe(200);
		expect(await again.json()).toEqual({ key, present: true });
		expect((await put("other, longer bytes")).status).toBe(409);
		expect(await (await env.BLOBS.get(key))?.text()).toBe("twelve bytes");
		const outside = await call("/-/admin/restore/blob?key=backups/x", { method: "PUT", token: ADMIN, body: "x" });
		expect(outside.status).toBe(400);
	});

	it("finishes a restore cut short: beginning the package again clears what the first attempt left", async () => {
		const scope = `@${uniqueName("bkcut")}`;
		const { name } = await richPackage(scope);
		const { items } = await exportAll(scope);
		const copy = `${scope}/cut`;
		const [head, ...rows] = renamed(packageItems(items, name), copy) as [PackageHead, ...PackageRows[]];
		expect(await (await restore(head)).json()).toEqual({ state: "fresh" });
		// The first page of rows only, without its final package row: cut short.
		const partial = { ...(rows[0] as PackageRows), final: false, tables: rows[0]?.tables.slice(0, -1) ?? [] };
		expect((await restore(partial)).status).toBe(200);
		expect((await call(`/${copy.replace("/", "%2f")}`, { token: ADMIN })).status).toBe(404);
		const answers = await restoreAll([head, ...rows]);
		expect(answers[0]).toEqual({ state: "fresh" });
		const restored = await readPackument(copy);
		expect(Object.keys(restored.versions)).toEqual(["1.0.0", "1.1.0"]);
		expect(await history(copy, "stable")).toEqual(await history(name, "stable"));
	});

	it("exports TOTP seeds sealed, sealing one stored before sealing existed", async () => {
		const user = uniqueName("bktotp");
		const created = await call("/-/admin/users", {
			method: "POST",
			token: ADMIN,
			body: JSON.stringify({ name: user, password: "user-password-1", email: `${user}@example.com`, grants: [] }),
		});
		expect(created.status).toBe(201);
		const auth = env.AUTH.get(env.AUTH.idFromName("auth"));
		await runInDurableObject(auth, (_instance, state) => {
			state.storage.sql.exec(`UPDATE users SET totp_secret = 'JBSWY3DPEHPK3PXP' WHERE name = ?`, user);
		});
		let cursor = { table: 0, offset: 0 };
		let seed: unknown;
		for (;;) {
			const page = await auth.exportRows(cursor);
			for (const t of page.item.tables) {
				if (t.table === "users") seed = t.rows.find((r) => r.name === user)?.totp_secret ?? seed;
			}
			if (page.next === null) break;
			cursor = page.next;
		}
		expect(String(seed)).toMatch(/^sealed:v1:/);
		expect(String(seed)).not.toContain("JBSWY3DPEHPK3PXP");
	});

	it("exports a package unpublished entirely, and its restore keeps its trail and its version numbers taken", async () => {
		const scope = `@${uniqueName("bkgone")}`;
		const name = `${scope}/gone`;
		const token = (await createToken([{ scope, permissions: ALL }])).token;
		expect((await publish(name, "1.0.0", token)).status).toBe(201);
		await runPackageAlarm(name);
		const { _rev } = await readPackument(name);
		expect((await call(`/${name}/-rev/${_rev}`, { method: "DELETE", token })).status).toBe(200);
		await runPackageAlarm(name);
		const { items } = await exportAll(scope);
		const mine = packageItems(items, name);
		expect((mine[0] as PackageHead).versions).toEqual([]);
		const copy = `${scope}/gone-copy`;
		await restoreAll(renamed(mine, copy));
		expect((await call(`/${copy.replace("/", "%2f")}`, { token: ADMIN })).status).toBe(404);
		const trail = await call(`/packages/${copy}/audit`, { token: ADMIN });
		expect(trail.status).toBe(200);
		const { entries } = (await trail.json()) as { entries: { action: string }[] };
		expect(entries.map((e) => e.action)).toContain("unpublish");
		// The number stays taken, as it is where the package was exported from.
		const again = await publish(copy, "1.0.0", token);
		expect(again.status).toBe((await publish(name, "1.0.0", token)).status);
		expect(again.status).not.toBe(201);
	});
	it("restores into a package that is here: copies the versions and channels it lacks with their history, keeps what is here (#18 fresh or not)", async () => {
		const scope = `@${uniqueName("bkmerge")}`;
		const { name } = await richPackage(scope);
		const { items } = await exportAll(scope);
		const copy = `${scope}/merged`;
		const full = renamed(packageItems(items, name), copy);
		// An older backup restored first: 1.0.0 only, no stable channel.
		await restoreAll(without(full, "1.1.0", "stable"));
		const older = await readPackument(copy);
		expect(Object.keys(older.versions)).toEqual(["1.0.0"]);
		expect(older["dist-tags"]).toEqual({ latest: "1.0.0" });
		const trailBefore = await call(`/packages/${copy}/audit`, { token: ADMIN });
		const before = ((await trailBefore.json()) as { entries: unknown[] }).entries.length;

		// Cut short first: the versions' rows in, nothing after them (the file index, the channels).
		const [head, ...pages] = full as [PackageHead, ...PackageRows[]];
		const versionsOnly = pages.map((p) => ({
			...p,
			final: false,
			tables: p.tables.filter((t) => t.table === "versions"),
		}));
		expect(await restoreAll([head, ...versionsOnly])).toContainEqual({
			state: "merge",
			copy: ["1.1.0"],
			conflicts: [],
		});
		// Run again, it goes on: 1.1.0 is here now, and still the merge's to finish.
		const answers = await restoreAll(full);
		expect(answers[0]).toEqual({ state: "merge", copy: ["1.1.0"], conflicts: [] });
		const merged = await readPackument(copy);
		const original = await readPackument(name);
		expect(Object.keys(merged.versions).sort()).toEqual(["1.0.0", "1.1.0"]);
		expect(merged.versions["1.1.0"]?.dist.integrity).toBe(original.versions["1.1.0"]?.dist.integrity);
		expect(merged.time["1.1.0"]).toBe(original.time["1.1.0"]);
		// The channel it lacked comes with its whole history; the one it has keeps its own.
		expect(merged["dist-tags"]).toEqual({ latest: "1.0.0", stable: "1.1.0" });
		// Renumbered after the history here, linked as it was.
		const renumbered = (entries: Record<string, unknown>[]) =>
			entries.map(({ id: _id, previousHistoryId: _p, ...rest }) => rest);
		const added = await history(copy, "stable");
		expect(renumbered(added)).toEqual(renumbered(await history(name, "stable")));
		expect(added[0]?.previousHistoryId).toBe(added[1]?.id);
		expect(merged._rev).not.toBe(older._rev);
		const tarball = await call(`/${copy}/-/merged-1.1.0.tgz`, { token: ADMIN });
		const bytes = await call(`/${name}/-/rich-1.1.0.tgz`, { token: ADMIN });
		expect(new Uint8Array(await tarball.arrayBuffer())).toEqual(new Uint8Array(await bytes.arrayBuffer()));
		// Its file index came with it: the same rows as where it was exported from.
		const filesOf = (pkg: string) =>
			runInDurableObject(packageStub(pkg), (_instance, state) =>
				state.storage.sql
					.exec(`SELECT path, offset, size, sha256 FROM files WHERE version = '1.1.0' ORDER BY path`)
					.toArray(),
			);
		const files = await filesOf(copy);
		expect(files.length).toBeGreaterThan(1);
		expect(files).toEqual(await filesOf(name));
		// Its trail is kept and says what the restore added.
		const trail = await call(`/packages/${copy}/audit`, { token: ADMIN });
		const { entries } = (await trail.json()) as { entries: { action: string; detail: unknown }[] };
		expect(entries.length).toBe(before + 1);
		expect(entries.find((e) => e.action === "restore.merge")?.detail).toEqual({
			versions: ["1.1.0"],
			channels: ["stable"],
		});

		// Idempotent: the same archive again is present and writes nothing.
		expect(await (await restore(full[0] as PackageHead)).json()).toEqual({ state: "present" });
		expect((await readPackument(copy))._rev).toBe(merged._rev);
	});

	it("merges around conflicts: a version here with other bytes, or removed here, stays as it is and is reported", async () => {
		const scope = `@${uniqueName("bkmconf")}`;
		const { name } = await richPackage(scope);
		const { items } = await exportAll(scope);
		const copy = `${scope}/mconf`;
		const full = renamed(packageItems(items, name), copy);
		await restoreAll(without(full, "1.1.0", "stable"));
		const head = full[0] as PackageHead;
		const tampered: PackageHead = {
			...head,
			versions: head.versions.map((v) => (v.version === "1.0.0" ? { ...v, integrity: "sha512-other" } : v)),
		};
		const verdict = await (await restore(tampered)).json();
		expect(verdict).toEqual({
			state: "merge",
			copy: ["1.1.0"],
			conflicts: [{ version: "1.0.0", reason: "different bytes here" }],
		});
		// Rows before a head are refused: a merge is only ever begun by its head.
		const rows = full.slice(1) as PackageRows[];
		for (const item of rows) expect((await restore(item)).status).toBe(200);
		expect(Object.keys((await readPackument(copy)).versions).sort()).toEqual(["1.0.0", "1.1.0"]);
		expect((await restore(rows[0] as PackageRows)).status).toBe(409);

		// A version removed here since is not brought back by a restore.
		const removed = await call(`/packages/${copy}/versions/1.1.0?force=true`, { method: "DELETE", token: ADMIN });
		expect(removed.status).toBe(200);
		expect(await (await restore(head)).json()).toEqual({
			state: "conflict",
			conflicts: [{ version: "1.1.0", reason: "removed here since: a restore does not undo a removal made here" }],
		});
	});

	it("exports a name only claimed, and restores its claim (#18)", async () => {
		const scope = `@${uniqueName("bkclaim")}`;
		const name = `${scope}/claimed`;
		const claimed = await call("/-/admin/claims", { method: "POST", token: ADMIN, body: JSON.stringify({ name }) });
		expect(claimed.status).toBe(201);
		const { items } = await exportAll(scope);
		const mine = packageItems(items, name);
		expect((mine[0] as PackageHead).versions).toEqual([]);
		const tables = mine.flatMap((i) => (i.kind === "rows" ? i.tables.map((t) => t.table) : []));
		expect(tables).toContain("claim");
		const copy = `${scope}/claimed-copy`;
		const answers = await restoreAll(renamed(mine, copy));
		expect(answers[0]).toEqual({ state: "fresh" });
		const again = await call("/-/admin/claims", { method: "POST", token: ADMIN, body: JSON.stringify({ name: copy }) });
		expect(again.status).toBe(200);
		// Exported again from where it was restored: the index knows the restored claim too.
		expect(packageItems((await exportAll(scope)).items, copy).length).toBeGreaterThan(0);
		// A name claimed before the index kept claims: claimed again, it is exported.
		const index = env.INDEX.get(env.INDEX.idFromName("index"));
		await runInDurableObject(index, (_instance, state) => {
			state.storage.sql.exec("DELETE FROM departed WHERE name = ?", name);
		});
		expect(packageItems((await exportAll(scope)).items, name)).toEqual([]);
		const reclaimed = await call("/-/admin/claims", { method: "POST", token: ADMIN, body: JSON.stringify({ name }) });
		expect(reclaimed.status).toBe(200);
		expect(packageItems((await exportAll(scope)).items, name).length).toBeGreaterThan(0);
		expect(await restoreAll(renamed(mine, copy))).toEqual([{ state: "fresh" }, expect.anything()]);
	});
	it("names the numbers removed here to admins, which a packument does not (migration from this registry, #18)", async () => {
		const scope = `@${uniqueName("bkrm")}`;
		const { name } = await richPackage(scope);
		const token = (await createToken([{ scope, permissions: ALL }])).token;
		expect((await publish(name, "1.2.0", token, { tag: "next" })).status).toBe(201);
		const removed = await call(`/packages/${name}/versions/1.2.0?force=true`, { method: "DELETE", token: ADMIN });
		expect(removed.status).toBe(200);
		expect(Object.keys((await readPackument(name)).time)).not.toContain("1.2.0");
		const path = `/-/admin/export/unpublished?package=${encodeURIComponent(name)}`;
		const answer = await call(path, { token: ADMIN });
		expect(answer.status).toBe(200);
		const body = (await answer.json()) as { name: string; unpublished: { version: string; removedAt: string }[] };
		expect(body.unpublished.map((u) => u.version)).toEqual(["1.2.0"]);
		expect((await call(path, { token })).status).toBe(403);
		expect((await call(path)).status).toBe(401);
		const unknown = `/-/admin/export/unpublished?package=${encodeURIComponent(`${scope}/none`)}`;
		expect((await call(unknown, { token: ADMIN })).status).toBe(404);
	});
	it("restores a package onto a name only claimed here: the claim stays, and both trails are kept whole", async () => {
		const scope = `@${uniqueName("bkonclaim")}`;
		const { name } = await richPackage(scope);
		const { items } = await exportAll(scope);
		const copy = `${scope}/onclaim`;
		const claimed = await call("/-/admin/claims", {
			method: "POST",
			token: ADMIN,
			body: JSON.stringify({ name: copy }),
		});
		expect(claimed.status).toBe(201);
		const trailOf = async (pkg: string) => {
			const res = await call(`/packages/${pkg}/audit?limit=1000`, { token: ADMIN });
			return ((await res.json()) as { entries: { action: string; at: string }[] }).entries;
		};
		const original = await trailOf(name);
		const [head, ...rows] = renamed(packageItems(items, name), copy) as [PackageHead, ...PackageRows[]];
		// Cut short first (every page but the package row), then run again whole: nothing doubles.
		const cut = rows.map((r) => ({ ...r, final: false, tables: r.tables.filter((t) => t.table !== "package") }));
		expect(await restoreAll([head, ...cut])).toContainEqual({ state: "fresh" });
		const answers = await restoreAll([head, ...rows]);
		expect(answers[0]).toEqual({ state: "fresh" });
		const actions = (await trailOf(copy)).map((e) => e.action).sort();
		expect(actions).toEqual([...original.map((e) => e.action), "claim"].sort());
		expect(Object.keys((await readPackument(copy)).versions)).toEqual(["1.0.0", "1.1.0"]);
		const again = await call("/-/admin/claims", { method: "POST", token: ADMIN, body: JSON.stringify({ name: copy }) });
		expect(((await again.json()) as { claimedBy: string }).claimedBy).not.toBe("published here");
	});
});
