import { authorizeRead } from "../auth";
import { decodeParam, json, type RouteRequest } from "../http";
import { type PackageName, packageNameFromParams } from "../lib/package-name";
import { daysOf, type Period, parsePeriod } from "./period";

// npm's downloads API (api.npmjs.org shapes) over the per-day, per-version counts each package
// object keeps. Readable by whoever may read the package.

async function counts(request: RouteRequest, env: Env) {
	const pkg = packageNameFromParams(request.params);
	const period = parsePeriod(decodeParam(request.params.period));
	const { result } = await authorizeRead(request, env, pkg, async (stub) =>
		stub.downloadCounts(period.start, period.end),
	);
	return { pkg, period, perDay: result.perDay, perVersion: result.perVersion };
}

const headers = { "cache-control": "private, no-cache" };

/** GET /-/downloads/point/{period}/{name} → { downloads, start, end, package } */
export async function pointDownloads(request: RouteRequest, env: Env): Promise<Response> {
	const { pkg, period, perDay } = await counts(request, env);
	const downloads = perDay.reduce((sum, d) => sum + d.downloads, 0);
	return json({ downloads, ...span(period, pkg) }, { headers });
}

/** GET /-/downloads/range/{period}/{name} → { downloads: [{ day, downloads }], start, end, package } */
export async function rangeDownloads(request: RouteRequest, env: Env): Promise<Response> {
	const { pkg, period, perDay } = await counts(request, env);
	const byDay = new Map(perDay.map((d) => [d.day, d.downloads]));
	const downloads = daysOf(period).map((day) => ({ day, downloads: byDay.get(day) ?? 0 }));
	return json({ downloads, ...span(period, pkg) }, { headers });
}

/** GET /-/downloads/versions/{name}/{period} → { package, downloads: { version: count } } */
export async function versionDownloads(request: RouteRequest, env: Env): Promise<Response> {
	const { pkg, period, perVersion } = await counts(request, env);
	return json({ ...span(period, pkg), downloads: perVersion }, { headers });
}

function span(period: Period, pkg: PackageName) {
	return { start: period.start, end: period.end, package: pkg.name };
}
