import { describe, expect, it } from "vitest";
import { AUTH_TABLES, AUTH_TABLES_KEPT_BACK } from "../durable-objects/auth/export";
import { HOOK_TABLES, HOOK_TABLES_KEPT_BACK } from "../durable-objects/hooks/export";
import { PACKAGE_TABLES, PACKAGE_TABLES_KEPT_BACK } from "../durable-objects/package/export";
import { authStoreMigrations } from "../schema/auth/migrations";
import { hooksMigrations } from "../schema/hooks/migrations";
import type { Migration } from "../schema/migrations";
import { packageMetadataMigrations } from "../schema/package/migrations";

// DESIGN.md invariant 13: nothing leaves that cannot come back. Every table an object's schema
// has is either in the export archive or named, with the reason, as staying behind; a migration
// that adds a table fails here until its author says which.

/** The tables the migrations leave, in the order they were made. */
function tablesOf(migrations: readonly Migration[]): string[] {
	const tables: string[] = [];
	for (const { sql } of migrations) {
		for (const [, name] of sql.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/g)) tables.push(name as string);
		for (const [, name] of sql.matchAll(/DROP TABLE (?:IF EXISTS )?(\w+)/g))
			tables.splice(tables.indexOf(name as string), 1);
	}
	return tables;
}

describe("the export archive holds every table (#18, DESIGN.md invariant 13)", () => {
	it.each([
		["the package object", packageMetadataMigrations, PACKAGE_TABLES, PACKAGE_TABLES_KEPT_BACK],
		["the auth store", authStoreMigrations, AUTH_TABLES, AUTH_TABLES_KEPT_BACK],
		["the hooks object", hooksMigrations, HOOK_TABLES, HOOK_TABLES_KEPT_BACK],
	] as const)("%s: each table is exported or named as kept back, never both", (_, migrations, exported, keptBack) => {
		const names = exported.map((t) => t.name);
		const accounted = [...names, ...Object.keys(keptBack)].sort();
		expect(accounted).toEqual(tablesOf(migrations).sort());
		expect(names.filter((name) => name in keptBack)).toEqual([]);
	});
});
