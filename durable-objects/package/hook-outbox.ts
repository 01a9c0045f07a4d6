import type { DeliveryReport, HookEvent, HookEventName, HookSubject, HookTarget } from "../../schema/hooks/contract";
import { hookSignature } from "../../schema/hooks/contract";
import { hooksObject } from "../stubs";
import { postJson, type Send } from "../webhook";

// Package hook events (npm's hook API). `record` runs inside the write's transaction, so an event
// exists exactly when its change does (DESIGN.md invariant 12); one of the alarm's jobs, `deliver`,
// asks the HooksDO which hooks match the package now and posts each event to each of them, signed
// with the hook's secret. A failed delivery is retried with backoff (HOOK_RETRY_SECONDS doubled per
// attempt, at most an hour apart) until the event is a day old; every attempt is reported back to
// the hook's row (last status, failures).

/** Events and deliveries taken per alarm: each delivery is a subrequest. */
const BATCH = 50;
/** A delivery still failing a day after its event is given up. */
export const HOOK_GIVE_UP_MS = 86_400_000;
const MAX_BACKOFF_MS = 3_600_000;

export type { Send };

type Change = { action: string; target: string | null; detail: Record<string, unknown> | null };
type Context = { name: string; distTags: Record<string, string>; modified: string; now: number };

/** The hook events one change of the package raises (none for changes hooks do not report). */
export function hookEvents(change: Change, context: Context): HookEvent[] {
	const { action, target, detail } = change;
	const event = (name: HookEventName, version: string | null, body: Record<string, unknown>): HookEvent => ({
		event: name,
		name: context.name,
		type: "package",
		version,
		payload: { name: context.name, "dist-tags": context.distTags, modified: context.modified },
		change: body,
		time: context.now,
	});
	const version = typeof detail?.version === "string" ? detail.version : null;
	switch (action) {
		case "publish":
		case "upload":
			return [event("package:publish", target, { version: target, "dist-tags": detail?.tags ?? [] })];
		case "unpublish": {
			const versions = Array.isArray(detail?.versions) ? detail.versions : target === null ? [] : target.split(",");
			return [event("package:unpublish", target === "*" ? null : target, { versions, all: target === "*" })];
		}
		case "deprecate": {
			const deprecations = (detail?.deprecations ?? {}) as Record<string, string | null>;
			return Object.entries(deprecations).map(([v, message]) =>
				message === null
					? event("package:undeprecate", v, { version: v, deprecated: null })
					: event("package:deprecate", v, { version: v, deprecated: message }),
			);
		}
		case "channel.move":
		case "channel.promote":
			return [
				event("package:dist-tag", version, { "dist-tag": target, version }),
				event("package:channel", version, { channel: target, action, ...detail }),
			];
		case "channel.remove":
			return [
				event("package:dist-tag-rm", null, { "dist-tag": target }),
				event("package:channel", null, { channel: target, action }),
			];
		case "channel.rollback":
		case "rollout.start":
		case "rollout.change":
		case "rollout.complete":
		case "rollout.revert":
			return [event("package:channel", version, { channel: target, action, ...detail })];
		default:
			return [];
	}
}

type EventRow = { id: number; body: string; created_at: number };
type DeliveryRow = { event_id: number; hook_id: string; attempts: number; body: string; created_at: number };

export class HookOutbox {
	constructor(
		private readonly sql: SqlStorage,
		private readonly env: Env,
		private readonly send: Send = (url, init) => fetch(url, init),
	) {}

	/** Inside the write's transaction: the events the change raises, as outbox rows. */
	record(change: Change, context: Context): void {
		for (const event of hookEvents(change, context)) {
			this.sql.exec(`INSERT INTO hook_outbox (body, created_at) VALUES (?, ?)`, JSON.stringify(event), context.now);
		}
	}

	/** Whether anything waits for delivery. */
	get pending(): boolean {
		return this.sql.exec(`SELECT 1 FROM hook_outbox LIMIT 1`).toArray().length > 0;
	}

	/** Delivers what is due; answers when the alarm should run again for hooks (null: nothing waits). */
	async deliver(subject: () => HookSubject, now: number, retryBaseMs: number): Promise<number | null> {
		if (!this.pending) return null;
		const due = this.sql
			.exec(
				`SELECT 1 FROM hook_outbox WHERE expanded = 0 UNION ALL SELECT 1 FROM hook_deliveries WHERE next_at <= ? LIMIT 1`,
				now,
			)
			.toArray();
		if (due.length === 0) return this.nextDue();
		let targets: Map<string, HookTarget>;
		try {
			targets = new Map((await hooksObject(this.env).matching(subject())).map((t) => [t.id, t]));
		} catch (error) {
			console.error("could not read the hooks to deliver to", error);
			return now + Math.max(retryBaseMs, 1000);
		}
		this.expand(targets, now);
		const reports = await this.attempt(targets, now, retryBaseMs);
		// Events whose every delivery ended.
		this.sql.exec(`DELETE FROM hook_outbox WHERE expanded = 1 AND id NOT IN (SELECT event_id FROM hook_deliveries)`);
		if (reports.length > 0) {
			try {
				await hooksObject(this.env).report(reports);
			} catch (error) {
				console.error("could not report hook deliveries", error);
			}
		}
		return this.nextDue();
	}

	/** New events fan out to the hooks that match now; an event no hook wants is dropped. */
	private expand(targets: Map<string, HookTarget>, now: number): void {
		const events = this.sql
			.exec<EventRow>(`SELECT id, body, created_at FROM hook_outbox WHERE expanded = 0 ORDER BY id LIMIT ?`, BATCH)
			.toArray();
		for (const event of events) {
			for (const id of targets.keys()) {
				this.sql.exec(
					`INSERT OR IGNORE INTO hook_deliveries (event_id, hook_id, next_at) VALUES (?, ?, ?)`,
					event.id,
					id,
					now,
				);
			}
			this.sql.exec(`UPDATE hook_outbox SET expanded = 1 WHERE id = ?`, event.id);
		}
	}

	private async attempt(targets: Map<string, HookTarget>, now: number, retryBaseMs: number): Promise<DeliveryReport[]> {
		const rows = this.sql
			.exec<DeliveryRow>(
				`SELECT d.event_id, d.hook_id, d.attempts, e.body, e.created_at FROM hook_deliveries d
				 JOIN hook_outbox e ON e.id = d.event_id WHERE d.next_at <= ? ORDER BY d.next_at, d.event_id LIMIT ?`,
				now,
				BATCH,
			)
			.toArray();
		const reports: DeliveryReport[] = [];
		for (const row of rows) {
			const target = targets.get(row.hook_id);
			// A hook removed (or no longer matching) since the event: nothing to deliver to.
			if (!target) {
				this.dropDelivery(row);
				continue;
			}
			const status = await this.post(target, row.body);
			const delivered = status !== null && status >= 200 && status < 300;
			reports.push({ id: target.id, status, ok: delivered, at: new Date(now).toISOString() });
			const attempts = row.attempts + 1;
			if (delivered || now - row.created_at >= HOOK_GIVE_UP_MS) {
				this.dropDelivery(row);
				if (!delivered) console.error(`hook ${target.id}: gave up an event after ${attempts} attempts`);
				continue;
			}
			const backoff = Math.min(MAX_BACKOFF_MS, Math.max(retryBaseMs, 1000) * 2 ** (attempts - 1));
			this.sql.exec(
				`UPDATE hook_deliveries SET attempts = ?, next_at = ? WHERE event_id = ? AND hook_id = ?`,
				attempts,
				now + backoff,
				row.event_id,
				row.hook_id,
			);
		}
		return reports;
	}

	/** One POST of the event with the hook's owner; the endpoint's status, or null when it did not answer. */
	private async post(target: HookTarget, stored: string): Promise<number | null> {
		const event = JSON.parse(stored) as HookEvent;
		const body = JSON.stringify({ ...event, hookOwner: { username: target.username } });
		return postJson(this.send, target.endpoint, body, {
			"x-npm-signature": `sha256=${await hookSignature(target.secret, body)}`,
			"user-agent": "workers-registry hooks",
		});
	}

	private dropDelivery(row: { event_id: number; hook_id: string }): void {
		this.sql.exec(`DELETE FROM hook_deliveries WHERE event_id = ? AND hook_id = ?`, row.event_id, row.hook_id);
	}

	private nextDue(): number | null {
		const unexpanded = this.sql.exec(`SELECT 1 FROM hook_outbox WHERE expanded = 0 LIMIT 1`).toArray().length > 0;
		if (unexpanded) return Date.now();
		const row = this.sql.exec<{ at: number | null }>(`SELECT min(next_at) AS at FROM hook_deliveries`).one();
		return row.at;
	}
}
