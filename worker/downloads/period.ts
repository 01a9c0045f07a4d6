import { refused } from "../refusals";

// Periods of npm's downloads API, in UTC days. Unlike api.npmjs.org (whose data stops at
// yesterday) the periods end today, so a download shows up as soon as it happened.

export type Period = { start: string; end: string };

const MAX_DAYS = 550; // about 18 months, as npm allows
const DAY_MS = 86_400_000;

export function parsePeriod(raw: string, now = new Date()): Period {
	const today = day(now);
	const daysBack = (n: number) => day(new Date(now.getTime() - n * DAY_MS));
	switch (raw) {
		case "last-day":
			return { start: today, end: today };
		case "last-week":
			return { start: daysBack(6), end: today };
		case "last-month":
			return { start: daysBack(29), end: today };
	}
	const match = /^(\d{4}-\d{2}-\d{2})(?::(\d{4}-\d{2}-\d{2}))?$/.exec(raw);
	const start = match?.[1];
	const end = match?.[2] ?? start;
	if (!start || !end || !isDate(start) || !isDate(end)) {
		throw refused.badPeriod(raw);
	}
	if (start > end) throw refused.periodReversed(raw);
	if (daysBetween(start, end) >= MAX_DAYS) throw refused.periodTooLong(raw, MAX_DAYS);
	return { start, end };
}

/** Every day of a period, in order. */
export function daysOf(period: Period): string[] {
	const days: string[] = [];
	for (let t = Date.parse(period.start); t <= Date.parse(period.end); t += DAY_MS) days.push(day(new Date(t)));
	return days;
}

function day(date: Date): string {
	return date.toISOString().slice(0, 10);
}

/** A real calendar date (2026-02-30 is not). */
function isDate(value: string): boolean {
	const parsed = new Date(`${value}T00:00:00Z`);
	return !Number.isNaN(parsed.getTime()) && day(parsed) === value;
}

function daysBetween(start: string, end: string): number {
	return Math.round((Date.parse(end) - Date.parse(start)) / DAY_MS);
}
