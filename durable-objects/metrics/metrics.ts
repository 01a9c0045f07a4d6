import { DurableObject } from "cloudflare:workers";
import { config } from "../../schema/config";
import { type MetricsBatch, WINDOWS, type WindowName } from "../../schema/metrics/contract";
import { metricsMigrations } from "../../schema/metrics/migrations";
import { applyMigrations } from "../migrations";
import { Alerts, conditions } from "./alerts";
import { Figures } from "./figures";

// The registry-wide figures: one object for the registry that every isolate sends its counts to,
// at most once per METRICS_FLUSH_SECONDS (worker/metrics/isolate.ts), so it sees one call per
// isolate per interval whatever the traffic. Its alarm rolls old minutes up into hours and
// evaluates the alerts every ALERT_INTERVAL_SECONDS (alerts.ts).

export class MetricsDO extends DurableObject<Env> {
	private readonly figuresTable: Figures;
	private readonly alerts: Alerts;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		applyMigrations(ctx.storage, metricsMigrations);
		this.figuresTable = new Figures(ctx.storage.sql);
		this.alerts = new Alerts(ctx.storage.sql);
	}

	async ingest(batch: MetricsBatch): Promise<void> {
		this.ctx.storage.transactionSync(() => this.figuresTable.ingest(batch));
		if ((await this.ctx.storage.getAlarm()) === null) {
			await this.ctx.storage.setAlarm(Date.now() + config(this.env).alertIntervalMs);
		}
	}

	/** A package's tarball bytes now (its object's alarm reports them after each change). */
	reportStorage(name: string, bytes: number): void {
		this.ctx.storage.sql.exec(
			`INSERT INTO package_storage (name, bytes) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes`,
			name,
			bytes,
		);
	}

	/** A package whose downloads today spike over its daily average (null: no longer). */
	reportDownloadSpike(name: string, spike: { day: string; today: number; average: number } | null): void {
		if (spike === null) {
			this.ctx.storage.sql.exec(`DELETE FROM download_spikes WHERE name = ?`, name);
			return;
		}
		this.ctx.storage.sql.exec(
			`INSERT OR REPLACE INTO download_spikes (name, day, today, average) VALUES (?, ?, ?, ?)`,
			name,
			spike.day,
			spike.today,
			spike.average,
		);
	}

	/** GET /-/admin/metrics: every window's figures, the alerts firing and recent. */
	summary(now = Date.now()) {
		const windows = Object.fromEntries(
			(Object.keys(WINDOWS) as WindowName[]).map((w) => [w, this.figuresTable.figures(now, w)]),
		) as Record<WindowName, ReturnType<Figures["figures"]>>;
		const storage = { bytes: this.figuresTable.storageBytes(), capacity: config(this.env).alertStorageBytes || null };
		const security = { newTokenRanges: this.figuresTable.newTokenRanges() };
		return { at: new Date(now).toISOString(), windows, storage, security, alerts: this.alertList() };
	}

	/** The dashboard's charts: the last `minutes` minutes, per minute. */
	series(minutes: number, now = Date.now()) {
		return this.figuresTable.series(now, Math.min(Math.max(1, minutes), 1440));
	}

	alertList() {
		return this.alerts.list().map((a) => ({
			name: a.name,
			status: a.resolved_at === null ? "firing" : "resolved",
			startedAt: new Date(a.started_at).toISOString(),
			resolvedAt: a.resolved_at === null ? null : new Date(a.resolved_at).toISOString(),
			value: a.value,
			threshold: a.threshold,
			text: a.text,
		}));
	}

	/** One evaluation: roll up, open or resolve alerts (tests call it with their own clock). */
	check(now: number): void {
		const cfg = config(this.env);
		this.ctx.storage.transactionSync(() => {
			this.figuresTable.rollUp(now);
			this.alerts.apply(conditions(this.figuresTable, cfg, now), now, cfg.alertWebhookUrl);
		});
	}

	override async alarm(): Promise<void> {
		const cfg = config(this.env);
		const now = Date.now();
		this.check(now);
		const next = await this.alerts.deliver(
			{ url: cfg.alertWebhookUrl, secret: cfg.alertWebhookSecret },
			now,
			cfg.hookRetryMs,
		);
		const due = now + cfg.alertIntervalMs;
		await this.ctx.storage.setAlarm(next === null ? due : Math.min(due, Math.max(next, now + 1000)));
	}
}
