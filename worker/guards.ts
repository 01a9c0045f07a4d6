import type { Actor } from "../schema/audit";
import type { Result } from "../schema/errors";
import type { PackageName } from "../schema/names";
import type { PackageInfo, Readable } from "../schema/package/contract";
import type { Permission } from "../schema/requests/admin";
import { authStore } from "./auth/auth-store";
import { actorOf, assertAdmin, assertCan, assertCanRead, can, mayRead } from "./auth/permissions";
import { authenticate, type Principal } from "./auth/principal";
import { assertSecondFactor } from "./auth/two-factor";
import type { CacheName } from "./cache-control";
import { HttpError } from "./errors";
import { publicBaseUrl, type RouteRequest, urlOf } from "./http";
import { countEvent, countTokenWrite } from "./metrics/isolate";
import { packageRevision, packageStub } from "./objects";
import { packageNameFromParams } from "./params";
import type { PreparedAnswer } from "./prepared-answer";
import { callerClass } from "./read-tier/refusals-kept";
import { forgetPackage, throughReadTier } from "./read-tier/tier";
import { type LogInReason, refused } from "./refusals";
import { type Answer, declare, finished, type Handler, withCache } from "./route-policy";
import { assertTrustedPublisherMay, type TrustedUse } from "./trust/trusted-token";

// What a route needs before its handler runs, declared where the handler is defined as its policy,
// `{ auth, cache }` (worker/route-policy.ts): a package it may read, a package it may change (with
// which permissions, and whether it must exist), the admin, or just a caller; and the named
// Cache-Control of its answers (worker/cache-control.ts). The guard authenticates, checks, hands
// the handler the principal, the package and its object, and sets Cache-Control on the answer; no
// handler writes the authentication sequence or a Cache-Control itself.
//
// How a token is checked on a read: `packageRead` below (authenticate, in parallel with the object's
// answer, then `settleRead`: the caller may read the package's access, else the 404 of a missing
// package). How long a package answer may be cached: by clients, the route's `cache` name
// (worker/cache-control.ts); by the Worker, READ_CACHE_SECONDS, then as long as the package's
// revision holds (the route's `tier`, worker/read-tier/tier.ts).

export type PackageStub = ReturnType<typeof packageStub>;
type Base = { request: RouteRequest; env: Env; ctx: ExecutionContext };

export type ReadContext<T> = Base & { pkg: PackageName; principal: Principal; stub: PackageStub; value: Readable<T> };

/** How a package read goes through the Worker's read tier (worker/read-tier/tier.ts). */
export type TierPolicy = {
	/** The route, for metrics and the x-registry-cache header. */
	route: string;
	/**
	 * What else the answer depends on than the URL's path (the packument's form, say), the query
	 * parameters it reads among them: the query string itself is not in the key, so unique junk
	 * parameters neither miss the tier nor fill it.
	 */
	variant?: (request: RouteRequest) => string;
	/** Answers derived from the package's rows stay true while its revision does (not download counts). */
	revalidateByRevision: boolean;
};

/**
 * A read of one package: the token check and the object's answer in parallel. A package that does
 * not exist, or that the caller may not read, is the same 404 either way; a refusal about something
 * inside the package (a version, a channel) is heard only by those who may read it. With a `tier`
 * policy the answer goes through the read tier: built once, served to every caller who may read it.
 */
export function packageRead<T>(
	policy: { auth: "read"; cache: CacheName; tier?: TierPolicy },
	/**
	 * `mayReadRestricted`: whether the caller may read the package were it restricted (known before
	 * the object is asked on the read tier's path), so the object refuses a caller it hides from
	 * before it builds anything, as for a missing package (#22.9). True where it is not known yet.
	 */
	read: (
		stub: PackageStub,
		request: RouteRequest,
		pkg: PackageName,
		mayReadRestricted: boolean,
		env: Env,
	) => Promise<Result<Readable<T>>>,
	handle: (context: ReadContext<T>) => Promise<Response> | Response,
): Handler {
	const tier = policy.tier;
	return declare(async (request, env, ctx) => {
		const pkg = packageNameFromParams(request.params);
		const principal = authenticate(request, env);
		const produce = async (asked: RouteRequest, known?: Principal) => {
			// Made here, not up front: a read the tier answers never needs the object.
			const stub = packageStub(env, pkg.name);
			const mayReadRestricted = known === undefined || can(known, pkg, "read");
			const [who, result] = await Promise.all([principal, read(stub, asked, pkg, mayReadRestricted, env)]);
			const value = settleRead(who, pkg, result);
			const answer = await handle({ request: asked, env, ctx, pkg, principal: who, stub, value });
			const response = withCache(policy.cache, { response: answer, access: value.access });
			return { response, access: value.access, rev: value.rev };
		};
		if (!tier) return (await produce(request)).response;
		// Principal errors (401, 429) surface before anything cached is looked at.
		const who = await principal;
		return throughReadTier({
			request,
			env,
			ctx,
			route: tier.route,
			owner: pkg.name,
			key: `${publicBaseUrl(request, env)}${urlOf(request).pathname}#${tier.variant?.(request) ?? ""}`,
			caller: callerClass(who),
			respondsToClient: true,
			shareable: (access) => access === "public",
			admits: (access) => mayRead(who, pkg, access ?? "restricted"),
			...(tier.revalidateByRevision ? { revision: () => packageRevision(env, pkg.name) } : {}),
			// The object is asked without the client's conditional headers: the tier answers those.
			produce: () => produce(unconditional(request), who),
		});
	}, policy);
}

/** The request without If-None-Match (kept aside as `heldBackIfNoneMatch`), keeping the router's params and query. */
function unconditional(request: RouteRequest): RouteRequest {
	const ifNoneMatch = request.headers.get("if-none-match");
	if (ifNoneMatch === null) return request;
	const headers = new Headers(request.headers);
	headers.delete("if-none-match");
	return Object.assign(new Request(request, { headers }), {
		params: request.params,
		query: request.query,
		head: request.head,
		parsed: request.parsed,
		heldBackIfNoneMatch: ifNoneMatch,
	});
}

/** An object's answer to a read, as the caller may hear it. */
export function settleRead<T>(principal: Principal, pkg: PackageName, result: Result<Readable<T>>): Readable<T> {
	if (!result.ok) {
		if (result.access !== undefined && mayRead(principal, pkg, result.access)) throw HttpError.from(result);
		throw refused.hidden();
	}
	assertCanRead(principal, pkg, result.value.access);
	return result.value;
}

export type WriteContext<I> = Base & {
	pkg: PackageName;
	principal: Principal;
	actor: Actor;
	stub: PackageStub;
	/** The package as it is before the change; null when it does not exist yet (publish, upload). */
	info: I;
};

/**
 * A change to one package: the token check and the package lookup in parallel, then the
 * permissions, the second factor where the user, the scope or the package asks for it, and, with
 * `mustExist`, a 404 for a package that does not exist (or a refusal naming the upstream package). `principal` says where the caller comes
 * from when it is not the Authorization header (a page's session). A refusal after the caller is
 * known to hold a token (no grant, no permission, a rule of the package) is recorded in the registry's audit log
 * as `write.refused`, off the response path; failed authentications record themselves.
 */
export function packageWrite<MustExist extends boolean>(
	options: {
		/** `write`: the Authorization header; `session write`: `principal` says where the caller comes from. */
		auth: "write" | "session write";
		need: readonly Permission[];
		mustExist: MustExist;
		principal?: (request: RouteRequest, env: Env) => Promise<Principal>;
		cache: CacheName;
		/** What a trusted publisher's token may do here (npm publish, npm stage publish); unset: nothing. */
		trusted?: TrustedUse;
		/** npm stage publish defers the second factor to the approval: no one-time password here. */
		defersSecondFactor?: boolean;
	},
	handle: (context: WriteContext<MustExist extends true ? PackageInfo : PackageInfo | null>) => Promise<Response>,
): Handler {
	const policy = { auth: `${options.auth}: ${options.need.join(", ")}` as const, cache: options.cache };
	return declare(async (request, env, ctx) => {
		const pkg = packageNameFromParams(request.params);
		const stub = packageStub(env, pkg.name);
		const identify = options.principal ?? authenticate;
		const [principal, found] = await Promise.all([identify(request, env), stub.info()]);
		const info = found.ok ? found.value : null;
		try {
			assertTrustedPublisherMay(principal, pkg, options.trusted);
			assertCan(principal, pkg, [...options.need], info?.access ?? null);
			if (!options.defersSecondFactor) {
				await assertSecondFactor(request, env, principal, pkg, info?.requireTwoFactor ?? false);
			}
			if (options.mustExist && info === null) {
				// A name served from upstream says so: it can never be changed through this registry.
				throw !found.ok && found.code === "upstreamReadOnly" ? HttpError.from(found) : refused.hidden();
			}
			const context = { request, env, ctx, pkg, principal, actor: actorOf(principal), stub, info };
			const response = await handle(context as WriteContext<MustExist extends true ? PackageInfo : PackageInfo | null>);
			// The writer's next read, and any read in this colo, sees the change (a page's form answers 303).
			if (response.status < 400) await forgetPackage(env, pkg.name);
			if (response.status < 400 && principal.kind !== "anonymous" && principal.prefix !== null) {
				countTokenWrite(principal.prefix, principal.ip);
			}
			return withCache(options.cache, response);
		} catch (error) {
			// Anonymous attempts are not recorded: anyone could fill the log with them.
			if (principal.kind !== "anonymous" && error instanceof HttpError && error.status < 500 && error.status !== 429) {
				countEvent(`write.refused.by.${principal.name.slice(0, 64)}`);
				ctx.waitUntil(auditRefusal(request, env, principal, pkg, error));
			}
			throw error;
		}
	}, policy);
}

/** A refused write, for the operators' dashboard: who, which package, what they were told. */
async function auditRefusal(
	request: RouteRequest,
	env: Env,
	principal: Principal,
	pkg: PackageName,
	error: HttpError,
): Promise<void> {
	try {
		await authStore(env).audit(actorOf(principal), "write.refused", pkg.name, {
			method: request.method,
			path: urlOf(request).pathname,
			status: error.status,
			code: error.code,
			message: error.message,
		});
	} catch (failure) {
		console.error("could not audit a refused write", failure);
	}
}

export type AdminContext = Base & { principal: Extract<Principal, { kind: "admin" }>; actor: Actor };

/** Every /-/admin/* route: the admin token or an adm_ token, else 401/403. */
export function admin(
	policy: { auth: "admin"; cache: CacheName },
	handle: (context: AdminContext) => Promise<Response>,
): Handler {
	return declare(async (request, env, ctx) => {
		const principal = await authenticate(request, env);
		assertAdmin(principal);
		return withCache(policy.cache, await handle({ request, env, ctx, principal, actor: actorOf(principal) }));
	}, policy);
}

export type CallerContext = Base & { principal: Principal };

/**
 * Routes open to anyone whose answer depends on who asks (anonymous included). A hot read answers
 * with a prepared header set (prepared-answer.ts), the others with a response.
 */
export function caller(
	policy: { auth: "caller"; cache: CacheName },
	handle: (context: CallerContext) => Promise<Answer | PreparedAnswer>,
): Handler {
	return declare(async (request, env, ctx) => {
		return finished(
			policy.cache,
			await handle({ request, env, ctx, principal: await authenticate(request, env) }),
			request,
		);
	}, policy);
}

export type SignedInContext = Base & { principal: Exclude<Principal, { kind: "anonymous" }>; actor: Actor };

/** Routes for a token holder (whoami, logout, npm token, npm access lists); anonymous callers get 401. */
export function signedIn(
	policy: { auth: "signedIn"; cache: CacheName },
	reason: LogInReason,
	handle: (context: SignedInContext) => Promise<Response>,
): Handler {
	return declare(async (request, env, ctx) => {
		const principal = await authenticate(request, env);
		if (principal.kind === "anonymous") throw refused.logIn(reason);
		return withCache(policy.cache, await handle({ request, env, ctx, principal, actor: actorOf(principal) }));
	}, policy);
}
