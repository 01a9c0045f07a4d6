import type { Access } from "./package/contract";

// The registry's configuration (wrangler.jsonc vars and secrets), parsed once per isolate into
// typed values, with every default in this one place. A var that does not parse falls back to
// its default; a missing secret is listed in `missingSecrets` (reported by /health and start-up).

export type Config = {
	/** Absolute base URL without a trailing slash; null: the origin of each request. */
	publicUrl: string | null;
	defaultAccess: Access;
	allowSignup: boolean;
	maxBodySize: number;
	maxUnpackedSize: number;
	maxTarballEntries: number;
	/** How long the read tier serves an entry before revalidating it; 0: every read asks the object. */
	readCacheMs: number;
	countDownloads: boolean;
	downloadFlushMs: number;
	searchDownloadsPushMs: number;
	adminToken: string | null;
	urlSigningSecret: string | null;
	/** Seals secrets the registry must read back (TOTP seeds). */
	encryptionKey: string | null;
	/** The ECDSA P-256 key (PKCS#8 DER, base64) that signs every version, as npm's registry does. */
	registrySigningKey: string | null;
	/** Public keys of earlier signing keys, still listed so their signatures verify until they expire. */
	retiredSigningKeys: { key: string; expires: string }[];
	missingSecrets: string[];
	/** The registries behind this one, asked in order for names that are not this registry's; none: off. */
	upstreams: Upstream[];
	/** Scopes this registry owns (`@acc`, lowercase): their names are never asked upstream. */
	ownedScopes: string[];
	upstreamTimeoutMs: number;
	/** How long an upstream tarball may take to arrive in full (between two bytes: upstreamTimeoutMs). */
	upstreamDownloadMs: number;
	/** How long an upstream document is served without asking upstream again. */
	upstreamMaxAgeMs: number;
	/** How long past its max age a document is still served while upstream fails. */
	upstreamStaleIfErrorMs: number;
	/** How long "no upstream has this name" is believed. */
	upstreamNotFoundMs: number;
	/** How long a scheduled backup is kept before it is pruned (BACKUP_RETENTION_DAYS). */
	backupRetentionMs: number;
	/** Whether a new name may be published while upstream cannot say whether it has it. */
	publishWhenUpstreamDown: boolean;
	/**
	 * The address of every client, set by `npm start` only when it listens on 127.0.0.1 or ::1:
	 * there every client is a process of this machine, and no edge sets CF-Connecting-IP. Null
	 * (always on Cloudflare): the client's address is the CF-Connecting-IP its edge sets.
	 */
	localClientAddress: "127.0.0.1" | "::1" | null;
	/** Whether the read tier uses the colo's Cache API: `npm start` has none to share (COLO_CACHE=false). */
	coloCache: boolean;
	/** CI providers whose ID tokens may be exchanged for publish tokens (trusted publishing). */
	oidcIssuers: OidcIssuer[];
	/** How long a staged version waits for approval before it and its bytes are dropped. */
	stageTtlMs: number;
	/** The first retry of a failed hook delivery; each later one waits twice as long (at most an hour). */
	hookRetryMs: number;
	/** Whether each isolate counts requests for the registry-wide figures (the benchmark turns it off). */
	collectMetrics: boolean;
	/** How long an isolate's counts wait before they are sent to the MetricsDO in one call. */
	metricsFlushMs: number;
	alertIntervalMs: number;
	alertP95Ms: number;
	alertHitRate: number;
	alertPublishFailureRate: number;
	alertDownloadSpike: number;
	/** The R2 capacity the storage alert watches (it fires at 80 %); 0: off. */
	alertStorageBytes: number;
	/** Where alert notices are posted; null: alerts are only listed. */
	alertWebhookUrl: string | null;
	/** Signs alert notices (x-registry-signature); an optional secret. */
	alertWebhookSecret: string | null;
};

/** Trusted publishers' OpenID Connect issuers, by the provider name `npm trust` uses. */
export type OidcProvider = "github" | "gitlab" | "circleci";
export type OidcIssuer = { provider: OidcProvider; url: string };

/** One registry behind this one. */
export type Upstream = {
	/** Base URL without a trailing slash: `https://registry.npmjs.org`. */
	url: string;
	/** Its origin: tarballs are fetched only from the origins of configured upstreams. */
	origin: string;
	/** Sent as a bearer token to this upstream's origin only. */
	token: string | null;
};

export const DEFAULTS = {
	/** The platform's own request limit on most plans: nothing is buffered whole, so it is the only bound. */
	maxBodySize: 104_857_600,
	/** Four times the body, as before (a tarball is base64 in the body, and JavaScript compresses 3 to 5 times). */
	maxUnpackedSize: 419_430_400,
	maxTarballEntries: 20_000,
	readCacheSeconds: 5,
	downloadFlushSeconds: 5,
	searchDownloadsPushSeconds: 300,
	upstreamTimeoutSeconds: 10,
	upstreamDownloadSeconds: 300,
	upstreamMaxAgeSeconds: 120,
	upstreamStaleIfErrorSeconds: 86_400,
	upstreamNotFoundSeconds: 30,
	/** A year of daily backups, as the plan's backups bucket keeps them. */
	backupRetentionDays: 365,
	/** The real issuers of GitHub Actions, GitLab.com and CircleCI (whose issuer is this URL + `/{org-id}`). */
	oidcIssuers:
		'{"github":"https://token.actions.githubusercontent.com","gitlab":"https://gitlab.com","circleci":"https://oidc.circleci.com/org"}',
	stageTtlDays: 7,
	hookRetrySeconds: 60,
	metricsFlushSeconds: 10,
	alertIntervalSeconds: 60,
	alertP95Ms: 500,
	alertHitRate: 0.9,
	alertPublishFailureRate: 0.05,
	alertDownloadSpike: 10,
	alertStorageBytes: 0,
} as const;

/**
 * The vars and secrets as wrangler hands them over (all strings; secrets may be missing).
 * UPSTREAM_TOKEN is an optional secret, which wrangler.jsonc cannot declare (see there);
 * LOCAL_CLIENT_ADDRESS and COLO_CACHE are set by `npm start` (scripts/start.mjs), never in wrangler.jsonc.
 */
export type ConfigSource = Partial<
	Record<keyof Env | "UPSTREAM_TOKEN" | "LOCAL_CLIENT_ADDRESS" | "COLO_CACHE" | "ALERT_WEBHOOK_SECRET", unknown>
>;

const parsed = new WeakMap<object, Config>();

export function config(env: ConfigSource): Config {
	let value = parsed.get(env);
	if (!value) {
		value = parseConfig(env);
		parsed.set(env, value);
	}
	return value;
}

export function parseConfig(env: ConfigSource): Config {
	const adminToken = secret(env.ADMIN_TOKEN);
	const urlSigningSecret = secret(env.URL_SIGNING_SECRET);
	const encryptionKey = secret(env.ENCRYPTION_KEY);
	const registrySigningKey = secret(env.REGISTRY_SIGNING_KEY);
	const publicUrl = text(env.PUBLIC_URL).replace(/\/+$/, "");
	return {
		publicUrl: publicUrl === "" ? null : publicUrl,
		defaultAccess: text(env.DEFAULT_ACCESS) === "public" ? "public" : "restricted",
		allowSignup: text(env.ALLOW_SIGNUP) === "true",
		maxBodySize: positiveInteger(env.MAX_BODY_SIZE, DEFAULTS.maxBodySize),
		maxUnpackedSize: positiveInteger(env.MAX_UNPACKED_SIZE, DEFAULTS.maxUnpackedSize),
		maxTarballEntries: positiveInteger(env.MAX_TARBALL_ENTRIES, DEFAULTS.maxTarballEntries),
		readCacheMs: seconds(env.READ_CACHE_SECONDS, DEFAULTS.readCacheSeconds) * 1000,
		countDownloads: text(env.COUNT_DOWNLOADS) !== "false",
		downloadFlushMs: seconds(env.DOWNLOAD_FLUSH_SECONDS, DEFAULTS.downloadFlushSeconds) * 1000,
		searchDownloadsPushMs: seconds(env.SEARCH_DOWNLOADS_PUSH_SECONDS, DEFAULTS.searchDownloadsPushSeconds) * 1000,
		adminToken,
		urlSigningSecret,
		encryptionKey,
		registrySigningKey,
		retiredSigningKeys: retiredKeys(env.REGISTRY_SIGNING_KEYS_RETIRED),
		missingSecrets: [
			...(adminToken === null ? ["ADMIN_TOKEN"] : []),
			...(urlSigningSecret === null ? ["URL_SIGNING_SECRET"] : []),
			...(encryptionKey === null ? ["ENCRYPTION_KEY"] : []),
			...(registrySigningKey === null ? ["REGISTRY_SIGNING_KEY"] : []),
		],
		upstreams: upstreams(env.UPSTREAM_URL, env.UPSTREAM_TOKEN),
		ownedScopes: list(env.OWNED_SCOPES).map((scope) => `@${scope.replace(/^@/, "").toLowerCase()}`),
		upstreamTimeoutMs: positiveSeconds(env.UPSTREAM_TIMEOUT_SECONDS, DEFAULTS.upstreamTimeoutSeconds) * 1000,
		upstreamDownloadMs: positiveSeconds(env.UPSTREAM_DOWNLOAD_SECONDS, DEFAULTS.upstreamDownloadSeconds) * 1000,
		upstreamMaxAgeMs: seconds(env.UPSTREAM_MAX_AGE_SECONDS, DEFAULTS.upstreamMaxAgeSeconds) * 1000,
		upstreamStaleIfErrorMs: seconds(env.UPSTREAM_STALE_IF_ERROR_SECONDS, DEFAULTS.upstreamStaleIfErrorSeconds) * 1000,
		upstreamNotFoundMs: seconds(env.UPSTREAM_NOT_FOUND_SECONDS, DEFAULTS.upstreamNotFoundSeconds) * 1000,
		publishWhenUpstreamDown: text(env.ALLOW_PUBLISH_WHEN_UPSTREAM_DOWN) === "true",
		backupRetentionMs: positiveInteger(env.BACKUP_RETENTION_DAYS, DEFAULTS.backupRetentionDays) * 24 * 60 * 60 * 1000,
		localClientAddress: loopbackAddress(env.LOCAL_CLIENT_ADDRESS),
		coloCache: text(env.COLO_CACHE) !== "false",
		oidcIssuers: oidcIssuers(env.OIDC_ISSUERS),
		stageTtlMs: positiveSeconds(env.STAGE_TTL_DAYS, DEFAULTS.stageTtlDays) * 86_400_000,
		hookRetryMs: seconds(env.HOOK_RETRY_SECONDS, DEFAULTS.hookRetrySeconds) * 1000,
		collectMetrics: text(env.COLLECT_METRICS) !== "false",
		metricsFlushMs: seconds(env.METRICS_FLUSH_SECONDS, DEFAULTS.metricsFlushSeconds) * 1000,
		alertIntervalMs: positiveSeconds(env.ALERT_INTERVAL_SECONDS, DEFAULTS.alertIntervalSeconds) * 1000,
		alertP95Ms: positiveInteger(env.ALERT_P95_MS, DEFAULTS.alertP95Ms),
		alertHitRate: fraction(env.ALERT_HIT_RATE, DEFAULTS.alertHitRate),
		alertPublishFailureRate: fraction(env.ALERT_PUBLISH_FAILURE_RATE, DEFAULTS.alertPublishFailureRate),
		alertDownloadSpike: positiveSeconds(env.ALERT_DOWNLOAD_SPIKE, DEFAULTS.alertDownloadSpike),
		alertStorageBytes: wholeNumber(env.ALERT_STORAGE_BYTES, DEFAULTS.alertStorageBytes),
		alertWebhookUrl: webhookUrl(env.ALERT_WEBHOOK_URL),
		alertWebhookSecret: secret(env.ALERT_WEBHOOK_SECRET),
	};
}

/**
 * `{ "github": "https://token.actions.githubusercontent.com", … }`: providers npm knows, each with
 * an https issuer (plain http only on loopback, for tests). A value that does not parse is the
 * default; an entry that does not is left out.
 */
function oidcIssuers(value: unknown): OidcIssuer[] {
	const parse = (raw: string): unknown => {
		try {
			return JSON.parse(raw);
		} catch {
			return null;
		}
	};
	let parsedValue = parse(text(value) || DEFAULTS.oidcIssuers);
	if (typeof parsedValue !== "object" || parsedValue === null || Array.isArray(parsedValue)) {
		parsedValue = parse(DEFAULTS.oidcIssuers);
	}
	return Object.entries(parsedValue as Record<string, unknown>).flatMap(([provider, raw]) => {
		if (provider !== "github" && provider !== "gitlab" && provider !== "circleci") return [];
		if (typeof raw !== "string") return [];
		let url: URL;
		try {
			url = new URL(raw);
		} catch {
			return [];
		}
		const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
		if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) return [];
		return [{ provider, url: raw.replace(/\/+$/, "") }];
	});
}

/** Only a loopback address is accepted: anything else would make every client one address. */
function loopbackAddress(value: unknown): Config["localClientAddress"] {
	const address = text(value);
	return address === "127.0.0.1" || address === "::1" ? address : null;
}

/** `[{ "key": "<SPKI base64>", "expires": "<ISO date>" }, …]`; entries that do not parse are left out. */
function retiredKeys(value: unknown): { key: string; expires: string }[] {
	let parsedValue: unknown;
	try {
		parsedValue = JSON.parse(text(value) || "[]");
	} catch {
		return [];
	}
	if (!Array.isArray(parsedValue)) return [];
	return parsedValue.flatMap((entry: unknown) => {
		const { key, expires } = (entry ?? {}) as { key?: unknown; expires?: unknown };
		return typeof key === "string" && typeof expires === "string" && !Number.isNaN(Date.parse(expires))
			? [{ key, expires: new Date(expires).toISOString() }]
			: [];
	});
}

/**
 * UPSTREAM_URL lists the upstreams in the order they are asked (separated by commas or spaces);
 * UPSTREAM_TOKEN holds their tokens in the same order, separated by commas (an empty place: none).
 * A URL that does not parse as http(s) is left out.
 */
function upstreams(urls: unknown, tokens: unknown): Upstream[] {
	const secrets = text(tokens).split(",");
	return list(urls).flatMap((raw, i) => {
		let url: URL;
		try {
			url = new URL(raw);
		} catch {
			return [];
		}
		if (url.protocol !== "http:" && url.protocol !== "https:") return [];
		const token = secrets[i]?.trim() ?? "";
		return [{ url: `${url.origin}${url.pathname}`.replace(/\/+$/, ""), origin: url.origin, token: token || null }];
	});
}

/** An integer of 0 or more. */
function wholeNumber(value: unknown, fallback: number): number {
	const raw = text(value);
	const parsedValue = Number(raw);
	return raw !== "" && Number.isInteger(parsedValue) && parsedValue >= 0 ? parsedValue : fallback;
}

/** A number from 0 to 1. */
function fraction(value: unknown, fallback: number): number {
	const raw = text(value);
	const parsedValue = Number(raw);
	return raw !== "" && Number.isFinite(parsedValue) && parsedValue >= 0 && parsedValue <= 1 ? parsedValue : fallback;
}

/** An http(s) URL, or null. */
function webhookUrl(value: unknown): string | null {
	try {
		const url = new URL(text(value));
		return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
	} catch {
		return null;
	}
}

function list(value: unknown): string[] {
	return text(value)
		.split(/[\s,]+/)
		.filter((item) => item !== "");
}

/** A number of seconds above 0 (a timeout of 0 would refuse everything). */
function positiveSeconds(value: unknown, fallback: number): number {
	const parsedValue = Number(text(value));
	return Number.isFinite(parsedValue) && parsedValue > 0 ? parsedValue : fallback;
}

function text(value: unknown): string {
	return typeof value === "string" ? value.trim() : "";
}

function secret(value: unknown): string | null {
	const trimmed = text(value);
	return trimmed === "" ? null : trimmed;
}

function positiveInteger(value: unknown, fallback: number): number {
	const parsedValue = Number.parseInt(text(value), 10);
	return Number.isFinite(parsedValue) && parsedValue > 0 ? parsedValue : fallback;
}

/** A number of seconds; 0 is allowed (tests push at once). */
function seconds(value: unknown, fallback: number): number {
	const raw = text(value);
	const parsedValue = Number(raw);
	return raw !== "" && Number.isFinite(parsedValue) && parsedValue >= 0 ? parsedValue : fallback;
}
