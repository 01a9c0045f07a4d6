import type { Migration, SchemaPart, SquashedSchema } from "../migrations";
import { packageMetadataSchema } from "./squashed-schema";

// The part of a package object's schema that a name only ever served from upstream needs: the
// tables of its upstream copies, and the audit trail (what upstream changed). A name's first write
// is usually such a copy (an install through the proxy stores one per package it meets), and
// creating these 5 tables instead of all ~25 takes a third off a cold install's CPU (#25). The other
// tables are created when the name first gets anything of its own (a publish, a claim, an import,
// a restore), by `Schema.ensure` (durable-objects/migrations.ts). Both come from the one squashed
// script, so the two steps make exactly the schema one would (tests/upstream-mirror-schema.test.ts).

const MIRROR_TABLES = new Set([
	"upstream_documents",
	"upstream_document_chunks",
	"upstream_versions",
	"upstream_tarballs",
	"audit",
]);

/** The schema's version when objects began to hold the mirror part alone. */
export const MIRROR_PART_SINCE = 9;

/**
 * Steps after MIRROR_PART_SINCE that change a mirror table, as they apply to the
 * mirror tables alone: they bring a database that holds only the mirror part forward (a step that
 * touches a mirror table must be listed here too; tests/upstream-mirror-schema.test.ts checks it).
 */
export const packageMirrorSteps: readonly Migration[] = [];

/** The table a statement of the squashed script creates, indexes, fills or watches (a trigger). */
function tableOf(statement: string): string {
	const found =
		/^\s*(?:CREATE TABLE|CREATE (?:UNIQUE )?INDEX \w+ ON|CREATE TRIGGER \w+ (?:AFTER|BEFORE) (?:INSERT|UPDATE|DELETE) ON|INSERT INTO)\s+(\w+)/.exec(
			statement,
		);
	if (!found?.[1]) throw new Error(`squashed schema: no table in ${statement.slice(0, 60)}`);
	return found[1];
}

function split(schema: SquashedSchema): { mirror: SquashedSchema; rest: SquashedSchema } {
	const statements = schema.sql
		.split(/;\s*\n\s*\n/)
		.map((s) => s.trim().replace(/;$/, ""))
		.filter((s) => s !== "");
	const mirror = statements.filter((s) => MIRROR_TABLES.has(tableOf(s)));
	const rest = statements.filter((s) => !MIRROR_TABLES.has(tableOf(s)));
	const script = (list: string[]) => ({ version: schema.version, sql: `${list.join(";\n\n")};` });
	return { mirror: script(mirror), rest: script(rest) };
}

const parts = split(packageMetadataSchema);

/** The package object's schema: the mirror part first where that is all a name needs. */
export const packageMirrorPart: SchemaPart = {
	tables: [...MIRROR_TABLES],
	part: parts.mirror,
	rest: parts.rest,
	steps: packageMirrorSteps,
};
