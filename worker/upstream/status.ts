import type { UpstreamFigures } from "../../schema/auth/contract";
import { config } from "../../schema/config";
import { noActivity } from "../../schema/upstream";
import { authStore } from "../auth/auth-store";
import { admin } from "../guards";
import { json } from "../http";

/**
 * GET /-/admin/upstream: the configuration, and per upstream what its cache holds, how often the
 * package objects answered from it, and how often upstream failed. The figures come from the
 * package objects' alarms, so they trail the requests by up to 30 s (DOWNLOAD_FLUSH_SECONDS if longer); requests
 * the read tier answered never reach an object and are not in them.
 */
export const upstreamStatus = admin({ auth: "admin", cache: "none" }, async ({ env }) => {
	const cfg = config(env);
	const figures = await authStore(env).upstreamFigures();
	const configured = new Set(cfg.upstreams.map((upstream) => upstream.url));
	return json({
		enabled: cfg.upstreams.length > 0,
		ownedScopes: cfg.ownedScopes,
		maxAgeSeconds: cfg.upstreamMaxAgeMs / 1000,
		staleIfErrorSeconds: cfg.upstreamStaleIfErrorMs / 1000,
		notFoundSeconds: cfg.upstreamNotFoundMs / 1000,
		timeoutSeconds: cfg.upstreamTimeoutMs / 1000,
		publishWhenUpstreamDown: cfg.publishWhenUpstreamDown,
		upstreams: cfg.upstreams.map((upstream) => ({
			...view(
				upstream.url,
				figures.find((f) => f.upstream === upstream.url),
			),
			token: upstream.token !== null,
		})),
		// What is still stored from upstreams no longer configured (their copies stay until claimed).
		formerUpstreams: figures.filter((f) => !configured.has(f.upstream)).map((f) => view(f.upstream, f)),
	});
});

function view(url: string, figures: UpstreamFigures | undefined) {
	const f = figures ?? noActivity();
	const hits = f.documentHits + f.tarballHits;
	const requests = hits + f.documentMisses + f.tarballMisses;
	return {
		url,
		cache: {
			documents: f.documents,
			documentBytes: f.documentBytes,
			tarballs: f.tarballs,
			tarballBytes: f.tarballBytes,
			bytes: f.documentBytes + f.tarballBytes,
		},
		requests: {
			documents: { hits: f.documentHits, misses: f.documentMisses },
			tarballs: { hits: f.tarballHits, misses: f.tarballMisses },
			hitRatio: requests === 0 ? null : Math.round((hits / requests) * 1000) / 1000,
		},
		failures: f.failures,
		lastError: f.lastError,
	};
}
