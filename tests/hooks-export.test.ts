import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { HookOutbox, type Send } from "../durable-objects/package/hook-outbox";
import { backupObject, hooksObject } from "../durable-objects/stubs";
import type { ExportItem, HookRows } from "../schema/backup/contract";
import type { HookView } from "../schema/hooks/contract";
import { packageStub } from "./helpers/package-object";
import { ADMIN, call, publish, publisherFor, uniqueName } from "./helpers/registry";

// DESIGN.md invariant 13 for the package hooks: their definitions (target, endpoint, secret sealed
// under ENCRYPTION_KEY, delivery status) are in the export archive and in scheduled backups, and a
// restore where none is brings back the same `npm hook ls` and deliveries signed with the same
// secret. The one HooksDO of this file's workerd, emptied, stands for a fresh instance.

const MINUTE = 60_000;
/** Answered 502 by the registry project's network (vitest.config.ts): every automatic delivery fails. */
const DEAD = "https://dead-hook.test/hook";

type Listed = { objects: HookView[]; total: number };

async function listed(token: string): Promise<Listed> {
	const res = await call("/-/npm/v1/hooks", { token });
	expect(res.status).toBe(200);
	return (await res.json()) as Listed;
}

/** The hooks' items of a whole export: a scope nobody publishes to, so no package comes with them. */
async function exportedHooks(): Promise<HookRows[]> {
	const items: ExportItem[] = [];
	let query = `scope=@${uniqueName("nohooks")}`;
	for (;;) {
		const res = await call(`/-/admin/export?${query}`, { token: ADMIN });
		expect(res.status).toBe(200);
		const page = (await res.json()) as { items: ExportItem[]; next: string | null };
		items.push(...page.items);
		if (page.next === null) break;
		query = `cursor=${page.next}`;
	}
	return items.filter((item): item is HookRows => item.kind === "hooks");
}

async function restore(item: ExportItem): Promise<{ inserted: number; present: number; differing: number }> {
	const res = await call("/-/admin/restore", { method: "POST", token: ADMIN, body: JSON.stringify(item) });
	expect(res.status).toBe(200);
	return res.json();
}

/** Polls until the hook shows a failed attempt (the package object's own alarm made it). */
async function attempted(id: string, token: string): Promise<void> {
	for (let i = 0; i < 200; i++) {
		const seen = (await (await call(`/-/npm/v1/hooks/hook/${id}`, { token })).json()) as HookView;
		if (seen.failures >= 1) return;
		await scheduler.wait(25);
	}
	throw new Error(`hook ${id} was never attempted`);
}

async function hmacHex(secret: string, body: string): Promise<string> {
	const key = await crypto.subtle.importKey(
		"raw",
		new TextEncoder().encode(secret),
		{ name: "HMAC", hash: "SHA-256" },
		false,
		["sign"],
	);
	const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
	return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("package hooks in the export (DESIGN.md invariant 13)", () => {
	it("exports hook definitions with their secrets sealed; restored where none are, `npm hook ls` is identical and deliveries are signed with the same secret", async () => {
		const name = uniqueName("hook-export");
		const token = await publisherFor(name);
		const add = async (body: Record<string, string>) => {
			const res = await call("/-/npm/v1/hooks/hook", { method: "POST", token, body: JSON.stringify(body) });
			expect(res.status).toBe(201);
			return (await res.json()) as HookView;
		};
		const onPackage = await add({ type: "package", name, endpoint: DEAD, secret: "package-secret" });
		await add({ type: "owner", name: "test", endpoint: "https://hooks.example/owner", secret: "owner-secret" });
		// A delivery attempt, so the hook has a status to carry over too.
		await publish(name, "1.0.0", token);
		await attempted(onPackage.id, token);
		const before = await listed(token);
		const beforeAdmin = await listed(ADMIN);
		expect(before.total).toBe(2);

		const items = await exportedHooks();
		expect(items.map((item) => item.final)).toEqual([true]);
		const rows = items.flatMap((item) => item.tables.flatMap((t) => t.rows));
		expect(rows.map((row) => row.id).sort()).toEqual(beforeAdmin.objects.map((h) => h.id).sort());
		for (const row of rows) expect(row.secret).toMatch(/^sealed:v1:/);
		expect(JSON.stringify(items)).not.toMatch(/package-secret|owner-secret/);

		// A fresh instance: no hooks at all.
		await runInDurableObject(hooksObject(env), (_instance, state) => {
			state.storage.sql.exec("DELETE FROM hooks");
		});
		expect((await listed(token)).total).toBe(0);

		for (const item of items) expect(await restore(item)).toEqual({ inserted: 2, present: 0, differing: 0 });
		expect(await listed(token)).toEqual(before);
		expect(await listed(ADMIN)).toEqual(beforeAdmin);
		// Again: everything is here, nothing is written twice.
		for (const item of items) expect(await restore(item)).toEqual({ inserted: 0, present: 2, differing: 0 });

		// The next delivery (the retry of the publish event) is signed with the secret given at `npm hook add`.
		const received: { url: string; body: string; signature: string | null }[] = [];
		const send: Send = async (url, init) => {
			received.push({
				url: String(url),
				body: String(init.body),
				signature: new Headers(init.headers).get("x-npm-signature"),
			});
			return new Response(null, { status: 200 });
		};
		await runInDurableObject(packageStub(name), (_instance, state) =>
			new HookOutbox(state.storage.sql, env, send).deliver(
				() => ({ name, scope: null, maintainers: ["test"] }),
				Date.now() + 2 * MINUTE,
				MINUTE,
			),
		);
		// By endpoint: the owner hook's delivery of the same event has the same body, its own secret.
		const delivered = received.find((r) => r.url === DEAD);
		if (!delivered) throw new Error("nothing delivered to the package hook");
		expect(delivered.signature).toBe(`sha256=${await hmacHex("package-secret", delivered.body)}`);
	});

	it("refuses hooks of a newer schema than this registry's, and a column the hooks object does not have", async () => {
		const refused = async (item: HookRows) => {
			const res = await call("/-/admin/restore", { method: "POST", token: ADMIN, body: JSON.stringify(item) });
			expect(res.status).toBe(422);
			return ((await res.json()) as { error: string }).error;
		};
		const row = { id: crypto.randomUUID(), username: "x", type: "package", name: "x", endpoint: DEAD, secret: "s" };
		expect(
			await refused({ kind: "hooks", schema: 99, tables: [{ table: "hooks", rows: [row] }], final: true }),
		).toMatch(/exported at schema 99/);
		expect(
			await refused({
				kind: "hooks",
				schema: 1,
				tables: [{ table: "hooks", rows: [{ ...row, owner: "y" }] }],
				final: true,
			}),
		).toBe("cannot restore: table hooks has no column owner");
		expect(
			await refused({ kind: "hooks", schema: 1, tables: [{ table: "users", rows: [{ name: "x" }] }], final: true }),
		).toBe("cannot restore: table users cannot be restored");
	});

	it("is in a scheduled backup as in the export", async () => {
		const name = uniqueName("hook-backup");
		const token = await publisherFor(name);
		const res = await call("/-/npm/v1/hooks/hook", {
			method: "POST",
			token,
			body: JSON.stringify({ type: "package", name, endpoint: DEAD, secret: "backup-secret" }),
		});
		expect(res.status).toBe(201);
		const { id } = (await res.json()) as HookView;
		const started = await backupObject(env).start(Date.now());
		for (let steps = 0; await runInDurableObject(backupObject(env), (o) => o.step(Date.now())); steps++) {
			if (steps > 1_000) throw new Error("the backup did not finish");
		}
		const items: ExportItem[] = [];
		let cursor: string | null = "1";
		while (cursor !== null) {
			const page = await call(`/-/admin/backups/${started.id}/export?cursor=${cursor}`, { token: ADMIN });
			expect(page.status).toBe(200);
			const body = (await page.json()) as { items: ExportItem[]; next: string | null };
			items.push(...body.items);
			cursor = body.next;
		}
		const hooks = items.filter((item): item is HookRows => item.kind === "hooks");
		const backedUp = hooks.flatMap((item) => item.tables.flatMap((t) => t.rows)).find((row) => row.id === id);
		expect(backedUp).toMatchObject({ id, name, endpoint: DEAD, type: "package" });
		expect(backedUp?.secret).toMatch(/^sealed:v1:/);
	});
});
