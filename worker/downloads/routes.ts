import type { PackageName } from "../../schema/names";
import { type PackageStub, packageRead } from "../guards";
import { decodeParam, json, type RouteRequest } from "../http";
import { daysOf, type Period, parsePeriod } from "./period";

// npm's downloads API (api.npmjs.org shapes) over the per-day, per-version counts each package
// object keeps. Readable by whoever may read the package.

const periodOf = (request: RouteRequest) => parsePeriod(decodeParam(request.params.period));
const counts = async (stub: PackageStub, request: RouteRequest) => {
	const period = periodOf(request);
	return stub.downloadCounts(period.start, period.end);
};
/** Counts move without a new revision: cached figures are simply read again after READ_CACHE_SECONDS. */
const policy = { auth: "read", cache: "personal", tier: { route: "downloads", revalidateByRevision: false } } as const;

/** GET /-/downloads/point/{period}/{name} → { downloads, start, end, package } */
export const pointDownloads = packageRead(policy, counts, ({ request, pkg, value }) => {
	const downloads = value.perDay.reduce((sum, d) => sum + d.downloads, 0);
	return json({ downloads, ...span(periodOf(request), pkg) });
});

/** GET /-/downloads/range/{period}/{name} → { downloads: [{ day, downloads }], start, end, package } */
export const rangeDownloads = packageRead(policy, counts, ({ request, pkg, value }) => {
	const period = periodOf(request);
	const byDay = new Map(value.perDay.map((d) => [d.day, d.downloads]));
	const downloads = daysOf(period).map((day) => ({ day, downloads: byDay.get(day) ?? 0 }));
	return json({ downloads, ...span(period, pkg) });
});

/** GET /-/downloads/versions/{name}/{period} → { package, downloads: { version: count } } */
export const versionDownloads = packageRead(policy, counts, ({ request, pkg, value }) =>
	json({ ...span(periodOf(request), pkg), downloads: value.perVersion }),
);

function span(period: Period, pkg: PackageName) {
	return { start: period.start, end: period.end, package: pkg.name };
}
