import type { Migration } from "../migrations";

// SQLite schema of the MetricsDO (one for the registry). Append only.

export const metricsMigrations: readonly Migration[] = [
	{
		version: 1,
		name: "figures per minute and per hour; alerts and their outbox",
		sql: `
			-- A route's counts (JSON RouteCounts, schema/metrics/contract.ts) per minute since the epoch,
			-- summed over every batch of every isolate; kept a day, then rolled up into route_hours.
			CREATE TABLE route_minutes (
				minute INTEGER NOT NULL,
				route TEXT NOT NULL,
				counts TEXT NOT NULL,
				PRIMARY KEY (minute, route)
			) WITHOUT ROWID;
			CREATE TABLE counter_minutes (
				minute INTEGER NOT NULL,
				name TEXT NOT NULL,
				value INTEGER NOT NULL,
				PRIMARY KEY (minute, name)
			) WITHOUT ROWID;
			-- The same per hour since the epoch, kept 30 days.
			CREATE TABLE route_hours (
				hour INTEGER NOT NULL,
				route TEXT NOT NULL,
				counts TEXT NOT NULL,
				PRIMARY KEY (hour, route)
			) WITHOUT ROWID;
			CREATE TABLE counter_hours (
				hour INTEGER NOT NULL,
				name TEXT NOT NULL,
				value INTEGER NOT NULL,
				PRIMARY KEY (hour, name)
			) WITHOUT ROWID;

			-- One row per alert from when its condition started; resolved_at set when it ended.
			CREATE TABLE alerts (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				name TEXT NOT NULL,
				started_at INTEGER NOT NULL,
				resolved_at INTEGER,
				value REAL,
				threshold REAL NOT NULL,
				text TEXT NOT NULL
			);
			CREATE INDEX alerts_open ON alerts (name, resolved_at);

			-- The R2 bytes of each package's tarballs, as its object last reported them (storage alert).
			CREATE TABLE package_storage (
				name TEXT PRIMARY KEY,
				bytes INTEGER NOT NULL
			) WITHOUT ROWID;

			-- Packages whose downloads today run over ALERT_DOWNLOAD_SPIKE times their daily average, as
			-- their objects reported it (download spike alert); a row from an earlier day no longer counts.
			CREATE TABLE download_spikes (
				name TEXT PRIMARY KEY,
				day TEXT NOT NULL,
				today INTEGER NOT NULL,
				average REAL NOT NULL
			) WITHOUT ROWID;

			-- The address ranges (/24, /48) each token (by prefix) has written from, and the times a token
			-- wrote from a range it had never written from before (the Security dashboard lists them).
			CREATE TABLE token_ranges (
				prefix TEXT NOT NULL,
				range TEXT NOT NULL,
				first_seen INTEGER NOT NULL,
				PRIMARY KEY (prefix, range)
			) WITHOUT ROWID;
			CREATE TABLE token_new_ranges (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				prefix TEXT NOT NULL,
				range TEXT NOT NULL,
				at INTEGER NOT NULL
			);

			-- Notices for ALERT_WEBHOOK_URL, written with the alert's change, delivered from the alarm.
			CREATE TABLE alert_outbox (
				id INTEGER PRIMARY KEY AUTOINCREMENT,
				body TEXT NOT NULL,
				created_at INTEGER NOT NULL,
				attempts INTEGER NOT NULL DEFAULT 0,
				next_at INTEGER NOT NULL
			);
		`,
	},
];
