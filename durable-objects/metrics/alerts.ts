import type { Config } from "../../schema/config";
import { hookSignature } from "../../schema/hooks/contract";
import { addRouteCounts, emptyRouteCounts, summarise } from "../../schema/metrics/contract";
import { postJson, type Send } from "../webhook";
import { type Figures, isPublishRoute } from "./figures";

// The alerts the MetricsDO's alarm evaluates every ALERT_INTERVAL_SECONDS over the last 5 minutes
// (downloads: the last hour). An alert fires once when its condition starts and resolves once when
// it ends: each change is a row of `alerts` and, when ALERT_WEBHOOK_URL is set, a notice in
// `alert_outbox` written in the same transaction, posted as JSON with a Slack-compatible `text`,
// signed (x-registry-signature: sha256=<hex HMAC-SHA256 of the body>) with ALERT_WEBHOOK_SECRET
// when set, and retried as hook deliveries are.

export type AlertName = "latency" | "hitRate" | "publishFailures" | "downloadSpike" | "storage";

/** The storage alert fires at this share of ALERT_STORAGE_BYTES. */
export const STORAGE_ALERT_SHARE = 0.8;

/** Fewer requests than this in the window say nothing about a rate or a percentile. */
export const ALERT_MIN_REQUESTS = 20;
/** Fewer publishes than this say nothing about their failure rate. */
export const ALERT_MIN_PUBLISHES = 3;
const GIVE_UP_MS = 86_400_000;
const MAX_BACKOFF_MS = 3_600_000;

type Condition = { name: AlertName; active: boolean; value: number | null; threshold: number; text: string };
export type AlertRow = {
	id: number;
	name: AlertName;
	started_at: number;
	resolved_at: number | null;
	value: number | null;
	threshold: number;
	text: string;
};

/** Each alert's condition now. */
export function conditions(figures: Figures, cfg: Config, now: number): Condition[] {
	const { routes } = figures.window(now, 5);
	const all = emptyRouteCounts();
	const publishes = emptyRouteCounts();
	for (const [route, counts] of routes) {
		addRouteCounts(all, counts);
		if (isPublishRoute(route)) addRouteCounts(publishes, counts);
	}
	const summary = summarise(all);
	const tiered = all.hit + all.miss + all.revalidated;
	const failed = publishes.s4xx + publishes.s5xx;
	const failureRate = publishes.requests === 0 ? null : failed / publishes.requests;
	const spikes = figures.downloadSpikes(now);
	const top = spikes[0];
	const stored = figures.storageBytes();
	const capacity = cfg.alertStorageBytes;
	const pct = (n: number | null) => (n === null ? "n/a" : `${(n * 100).toFixed(1)} %`);
	return [
		{
			name: "latency",
			active: all.requests >= ALERT_MIN_REQUESTS && (summary.p95 ?? 0) > cfg.alertP95Ms,
			value: summary.p95,
			threshold: cfg.alertP95Ms,
			text: `p95 latency over the last 5 minutes is ${summary.p95 ?? "n/a"} ms (threshold ${cfg.alertP95Ms} ms)`,
		},
		{
			name: "hitRate",
			active: tiered >= ALERT_MIN_REQUESTS && (summary.hitRate ?? 1) < cfg.alertHitRate,
			value: summary.hitRate,
			threshold: cfg.alertHitRate,
			text: `read-tier hit rate over the last 5 minutes is ${pct(summary.hitRate)} (threshold ${pct(cfg.alertHitRate)})`,
		},
		{
			name: "publishFailures",
			active: publishes.requests >= ALERT_MIN_PUBLISHES && (failureRate ?? 0) > cfg.alertPublishFailureRate,
			value: failureRate,
			threshold: cfg.alertPublishFailureRate,
			text: `${failed} of ${publishes.requests} publishes failed over the last 5 minutes (${pct(failureRate)}, threshold ${pct(cfg.alertPublishFailureRate)})`,
		},
		{
			name: "downloadSpike",
			active: top !== undefined,
			value: top ? top.today / Math.max(top.average, 1e-9) : null,
			threshold: cfg.alertDownloadSpike,
			text: top
				? `downloads today over ${cfg.alertDownloadSpike}x their daily average: ${spikes.map((s) => `${s.name} ${s.today} (average ${s.average.toFixed(1)})`).join(", ")}`
				: "no package's downloads today run over its daily average",
		},
		{
			name: "storage",
			active: capacity > 0 && stored > STORAGE_ALERT_SHARE * capacity,
			value: capacity > 0 ? stored / capacity : null,
			threshold: STORAGE_ALERT_SHARE,
			text: `tarballs take ${stored} bytes of R2, ${capacity > 0 ? pct(stored / capacity) : "n/a"} of ALERT_STORAGE_BYTES (${capacity}; threshold ${pct(STORAGE_ALERT_SHARE)})`,
		},
	];
}

export class Alerts {
	constructor(
		private readonly sql: SqlStorage,
		private readonly send: Send = (url, init) => fetch(url, init),
	) {}

	/** Opens an alert whose condition started, resolves one whose condition ended (call inside a transaction). */
	apply(current: Condition[], now: number, webhook: string | null): void {
		for (const condition of current) {
			const open = this.sql
				.exec<AlertRow>(`SELECT * FROM alerts WHERE name = ? AND resolved_at IS NULL`, condition.name)
				.toArray()[0];
			if (condition.active && !open) {
				const id = this.sql
					.exec<{ id: number }>(
						`INSERT INTO alerts (name, started_at, value, threshold, text) VALUES (?, ?, ?, ?, ?) RETURNING id`,
						condition.name,
						now,
						condition.value,
						condition.threshold,
						condition.text,
					)
					.one().id;
				if (webhook) this.notice(now, { id, status: "firing", condition, startedAt: now, resolvedAt: null });
			} else if (!condition.active && open) {
				this.sql.exec(`UPDATE alerts SET resolved_at = ? WHERE id = ?`, now, open.id);
				if (webhook) {
					this.notice(now, { id: open.id, status: "resolved", condition, startedAt: open.started_at, resolvedAt: now });
				}
			}
		}
	}

	/** Firing alerts and the last `limit` resolved ones, newest first. */
	list(limit = 50): AlertRow[] {
		return this.sql
			.exec<AlertRow>(`SELECT * FROM alerts ORDER BY resolved_at IS NOT NULL, id DESC LIMIT ?`, limit)
			.toArray();
	}

	private notice(
		now: number,
		n: {
			id: number;
			status: "firing" | "resolved";
			condition: Condition;
			startedAt: number;
			resolvedAt: number | null;
		},
	): void {
		const mark = n.status === "firing" ? "[FIRING]" : "[RESOLVED]";
		const body = {
			text: `${mark} registry alert ${n.condition.name}: ${n.condition.text}`,
			alert: n.condition.name,
			id: n.id,
			status: n.status,
			value: n.condition.value,
			threshold: n.condition.threshold,
			startedAt: new Date(n.startedAt).toISOString(),
			resolvedAt: n.resolvedAt === null ? null : new Date(n.resolvedAt).toISOString(),
		};
		this.sql.exec(
			`INSERT INTO alert_outbox (body, created_at, next_at) VALUES (?, ?, ?)`,
			JSON.stringify(body),
			now,
			now,
		);
	}

	/** Posts the due notices; answers when the next one is due (null: none waits). */
	async deliver(
		webhook: { url: string | null; secret: string | null },
		now: number,
		retryBaseMs: number,
	): Promise<number | null> {
		const due = this.sql
			.exec<{ id: number; body: string; created_at: number; attempts: number }>(
				`SELECT id, body, created_at, attempts FROM alert_outbox WHERE next_at <= ? ORDER BY id LIMIT 20`,
				now,
			)
			.toArray();
		for (const notice of due) {
			const delivered = webhook.url !== null && (await this.post(webhook.url, webhook.secret, notice.body));
			const attempts = notice.attempts + 1;
			if (delivered || webhook.url === null || now - notice.created_at >= GIVE_UP_MS) {
				this.sql.exec(`DELETE FROM alert_outbox WHERE id = ?`, notice.id);
				continue;
			}
			const backoff = Math.min(MAX_BACKOFF_MS, Math.max(retryBaseMs, 1000) * 2 ** (attempts - 1));
			this.sql.exec(
				`UPDATE alert_outbox SET attempts = ?, next_at = ? WHERE id = ?`,
				attempts,
				now + backoff,
				notice.id,
			);
		}
		return this.sql.exec<{ at: number | null }>(`SELECT min(next_at) AS at FROM alert_outbox`).one().at;
	}

	private async post(url: string, secret: string | null, body: string): Promise<boolean> {
		const headers: Record<string, string> = { "user-agent": "workers-registry alerts" };
		if (secret !== null) headers["x-registry-signature"] = `sha256=${await hookSignature(secret, body)}`;
		const status = await postJson(this.send, url, body, headers);
		return status !== null && status >= 200 && status < 300;
	}
}
