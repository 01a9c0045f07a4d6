import {
	ARCHIVE_FORMAT,
	type AuthRows,
	type DumpCursor,
	EXPORT_PAGE_BYTES,
	EXPORT_PAGE_CALLS,
	type ExportCursor,
	type ExportItem,
	type ExportPage,
	type HookRows,
	type PackageHead,
	type PackageRows,
} from "../../schema/backup/contract";
import type { Result } from "../../schema/errors";

// One page of the registry's export (schema/backup/contract.ts): the auth store's rows, the package
// hooks' definitions, then every package the search index knows (in name order), each as its head and pages of its rows. A page
// stops before it would make more than EXPORT_PAGE_CALLS object calls or hold EXPORT_PAGE_BYTES,
// so the admin API and the scheduled backup both stay far inside a request's 1,000 subrequests
// and an isolate's 128 MB whatever the registry holds; the cursor says where the next page starts.
// A package that changes while its rows are paged is exported again from its head (restore
// begins a package again at every head).

/** The objects a page reads (the Worker passes stubs that count their calls). */
export type ExportSources = {
	packageNames(after: string, limit: number, scope: string | null): Promise<string[]>;
	exportHead(name: string): Promise<Result<PackageHead>>;
	exportRows(
		name: string,
		rev: string,
		cursor: DumpCursor,
	): Promise<Result<{ item: PackageRows; next: DumpCursor | null }>>;
	exportAuth(cursor: DumpCursor): Promise<{ item: AuthRows; next: DumpCursor | null }>;
	exportHooks(cursor: DumpCursor): Promise<{ item: HookRows; next: DumpCursor | null }>;
};

const NAMES_PER_CALL = 100;

export function firstCursor(scope: string | null): ExportCursor {
	return { scope, auth: { table: 0, offset: 0 }, hooks: { table: 0, offset: 0 }, after: "", pkg: null };
}

export async function exportPage(
	sources: ExportSources,
	start: ExportCursor,
	budget = { calls: EXPORT_PAGE_CALLS, bytes: EXPORT_PAGE_BYTES },
): Promise<ExportPage> {
	const cursor: ExportCursor = structuredClone(start);
	const items: ExportItem[] = [];
	let calls = 0;
	let bytes = 0;
	let queue: string[] = [];
	let exhausted = false;
	const add = (item: ExportItem) => {
		items.push(item);
		bytes += JSON.stringify(item).length;
	};
	while (calls < budget.calls && bytes < budget.bytes) {
		if (cursor.auth !== null) {
			calls += 1;
			const page = await sources.exportAuth(cursor.auth);
			add(page.item);
			cursor.auth = page.next;
			continue;
		}
		if (cursor.hooks) {
			calls += 1;
			const page = await sources.exportHooks(cursor.hooks);
			add(page.item);
			cursor.hooks = page.next;
			continue;
		}
		if (cursor.pkg !== null) {
			calls += 1;
			const { name, rev, dump } = cursor.pkg;
			const rows = await sources.exportRows(name, rev, dump);
			if (!rows.ok) {
				// Changed since its head (or gone): from its head again, or on to the next package.
				cursor.pkg = null;
				if (rows.code === "notFound") cursor.after = name;
				continue;
			}
			add(rows.value.item);
			if (rows.value.next === null) {
				cursor.pkg = null;
				cursor.after = name;
			} else {
				cursor.pkg = { name, rev, dump: rows.value.next };
			}
			continue;
		}
		queue = queue.filter((name) => name > cursor.after);
		if (queue.length === 0) {
			if (exhausted) return { format: ARCHIVE_FORMAT, items, next: null, calls };
			calls += 1;
			queue = await sources.packageNames(cursor.after, NAMES_PER_CALL, cursor.scope);
			exhausted = queue.length < NAMES_PER_CALL;
			continue;
		}
		const name = queue[0] as string;
		calls += 1;
		const head = await sources.exportHead(name);
		if (!head.ok) {
			// The index knew a package its object does not have (any more): nothing to export.
			cursor.after = name;
			continue;
		}
		add(head.value);
		cursor.pkg = { name, rev: head.value.rev, dump: { table: 0, offset: 0 } };
	}
	return { format: ARCHIVE_FORMAT, items, next: cursor, calls };
}
