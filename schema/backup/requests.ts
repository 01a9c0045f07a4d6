import * as v from "valibot";

// What the export and restore API takes (schema/backup/contract.ts): the export's cursor, and the
// archive's items as restore receives them. Table and column names are checked again by the
// object that writes them, against its own schema.

const Count = v.pipe(v.number(), v.integer(), v.minValue(0));
const DumpCursorSchema = v.strictObject({ table: Count, offset: Count });
const ScopeSchema = v.pipe(v.string(), v.regex(/^@[a-z0-9][a-z0-9._~-]*$/, "scope must look like @scope"));

export const ExportCursorSchema = v.strictObject({
	scope: v.nullable(ScopeSchema),
	auth: v.nullable(DumpCursorSchema),
	hooks: v.optional(v.nullable(DumpCursorSchema)),
	after: v.string(),
	pkg: v.nullable(v.strictObject({ name: v.string(), rev: v.string(), dump: DumpCursorSchema })),
});

export const ScopeParamSchema = v.optional(ScopeSchema);

const RowSchema = v.record(v.string(), v.nullable(v.union([v.string(), v.number()])));
const TablesSchema = v.array(v.strictObject({ table: v.string(), rows: v.array(RowSchema) }));

export const ExportItemSchema = v.variant("kind", [
	v.strictObject({
		kind: v.literal("package"),
		name: v.string(),
		rev: v.string(),
		schema: Count,
		versions: v.array(
			v.strictObject({
				version: v.string(),
				integrity: v.string(),
				shasum: v.string(),
				tarballKey: v.string(),
				tarballSize: Count,
				filesKey: v.string(),
			}),
		),
	}),
	v.strictObject({
		kind: v.literal("rows"),
		name: v.string(),
		rev: v.string(),
		schema: Count,
		tables: TablesSchema,
		final: v.boolean(),
	}),
	v.strictObject({ kind: v.literal("auth"), schema: Count, tables: TablesSchema, final: v.boolean() }),
	v.strictObject({ kind: v.literal("hooks"), schema: Count, tables: TablesSchema, final: v.boolean() }),
]);

/** The R2 keys an archive may carry: version tarballs and file bundles, never anything else. */
export const BLOB_KEY = /^(tarballs|files)\/(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*\/[^/]+\/[^/]+$/i;
