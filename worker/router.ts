import { Router } from "itty-router";
import { config } from "../schema/config";
import { normalizeScopedPath } from "../schema/names";
import { adminAudit, packageAudit } from "./admin/audit";
import { backupBlob, exportBackup, listBackups, startBackup } from "./admin/backups";
import {
	createCustomer,
	getRetention,
	getScopePolicy,
	listCustomers,
	setRetentionDefault,
	setScopePolicy,
	updateCustomer,
} from "./admin/customers";
import { exportBlob, exportRegistry, exportUnpublished } from "./admin/export";
import { importMetadata, importVersion } from "./admin/import";
import { readMetrics } from "./admin/metrics";
import { reindexStatus, startReindex } from "./admin/reindex";
import { restoreBlob, restoreItem } from "./admin/restore";
import { createToken, grantToken, listTokens, revokeToken, rotateToken, ungrantToken } from "./admin/tokens";
import { createUser, disableTotp, enableTotp, getUser, grantUser, listUsers, ungrantUser } from "./admin/users";
import { clientGone, clientWentAway } from "./client-gone";
import { isBrowserFacing, withCors } from "./cors";
import { pointDownloads, rangeDownloads, versionDownloads } from "./downloads/routes";
import { HttpError } from "./errors";
import { serveFile } from "./files/serve";
import { type RouteRequest, urlOf } from "./http";
import { serveLoader } from "./loader/route";
import { routeRead } from "./matched-routes";
import { metricsRouteName, noteRefusal, recordRequest } from "./metrics/isolate";
import { getVisibility, listCollaborators, listScopePackages, listUserPackages, setAccess } from "./npm/access";
import { deleteDistTag, listDistTags, setDistTag } from "./npm/dist-tags";
import { addHook, getHook, listHooks, removeHook, updateHook } from "./npm/hooks";
import { listSigningKeys } from "./npm/keys";
import { putPackage, stagePackage } from "./npm/publish";
import { getPackument, getTarball, getVersion, ping } from "./npm/reads";
import { createNpmToken, listNpmTokens, revokeNpmToken } from "./npm/tokens";
import { deleteTarball, unpublishPackage } from "./npm/unpublish";
import { getUserDocument, health, login, logout, noAdvisories, noWebLogin, whoami } from "./npm/users";
import { getOrg, listOrgMembers, orgSetup, removeOrgMember, setOrgMember, setOrgSettings } from "./orgs/org-routes";
import {
	addTeamMember,
	createTeam,
	destroyTeam,
	grantTeamPackage,
	listTeamMembers,
	listTeamPackages,
	listTeams,
	removeTeamMember,
	revokeTeamPackage,
} from "./orgs/team-routes";
import { getChannel, getImportMap } from "./packages/channel-lookup";
import { promoteChannel, publishToChannel, removeChannel, rollbackChannel } from "./packages/channel-moves";
import { getChannelHistory, listChannels } from "./packages/channels";
import { changeRollout, completeRollout, revertRollout, startRollout } from "./packages/rollouts";
import { uploadBundle } from "./packages/upload";
import { deleteVersion, getVersionInfo, listVersions } from "./packages/versions";
import { preflight } from "./preflight";
import { refused } from "./refusals";
import { route } from "./route-policy";
import { search } from "./search/search";
import { approveStaged, downloadStaged, listStaged, rejectStaged, viewStaged } from "./stage/routes";
import { addTrust, listTrust, revokeTrust } from "./trust/configurations";
import { exchangeIdToken } from "./trust/exchange";
import { claimName } from "./upstream/claims";
import { upstreamStatus } from "./upstream/status";
import { adminCustomersForm, adminCustomersPage } from "./web/admin-customers";
import { adminScopesForm, adminScopesPage } from "./web/admin-scopes";
import { adminTokensForm, adminTokensPage } from "./web/admin-tokens";
import { adminUsersForm, adminUsersPage } from "./web/admin-users";
import { serveScript, serveStylesheet } from "./web/assets";
import {
	completeRolloutFromPage,
	promoteFromPage,
	revertRolloutFromPage,
	rollbackFromPage,
	rolloutFromPage,
} from "./web/channel-forms";
import { dashboardPage } from "./web/dashboard";
import { fileViewPage } from "./web/file-view-page";
import { filesPage } from "./web/files-page";
import { homePage, searchPage } from "./web/listing-pages";
import { operationsPage } from "./web/operations-page";
import { orgForm, orgPage } from "./web/org-page";
import { packagePage } from "./web/package-page";
import { signIn, signInPage, signOut } from "./web/signin";
import { approveFromPage, rejectFromPage } from "./web/stage-forms";

// The routing table. Scoped names have their own routes (`/@:scope/:pkg…`) registered before the
// unscoped ones, because `/@scope/name` would otherwise read as `/{name}/{version}`; encoded
// slashes (`@scope%2fname`) are rewritten to plain ones before routing (see index.ts).

// Three route tables: the registry's own endpoints, those of web-component loaders (channels,
// files, the loader module), and the npm protocol's routes under package names. A request goes to
// one of them by its first path segment (no package may be named like the registry's own
// segments, see schema/names.ts), so the hottest reads, installs and channel lookups, are matched
// against a few routes instead of every route there is.

const options = {
	before: [refuseWhileMisconfigured],
	catch: (error: unknown) => {
		if (error instanceof HttpError) {
			const response = error.toResponse();
			noteRefusal(response, error.code);
			return response;
		}
		if (clientWentAway(error)) return clientGone().toResponse();
		console.error("unhandled error", error);
		return refused.internal().toResponse();
	},
	finally: [
		(response: Response, request: RouteRequest) =>
			isBrowserFacing(urlOf(request).pathname) ? withCors(response) : response,
	],
};
const api = Router<RouteRequest, [Env, ExecutionContext], Response>(options);
const packages = Router<RouteRequest, [Env, ExecutionContext], Response>(options);
const loaders = Router<RouteRequest, [Env, ExecutionContext], Response>(options);

/** First path segments of the registry's own endpoints ("" is the home page, `/`). */
const OWN_SEGMENTS = new Set(["", "-", "packages", "files", "health", "loader.js", "search", "package"]);
/** Those of them served by the loaders' table. */
const LOADER_SEGMENTS = new Set(["packages", "files", "loader.js"]);

const router = {
	/** Every route, in matching order (the architecture test reads them). */
	get routes() {
		return [...api.routes, ...loaders.routes, ...packages.routes];
	},
	/**
	 * Rewrites the path into one canonical spelling (`@scope%2fname` → `@scope/name`: npm, pnpm and
	 * yarn all spell it differently), routes HEAD as GET and drops the body, and keeps the parsed
	 * URL on the request for every handler.
	 */
	async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
		const started = Date.now();
		const url = new URL(request.url);
		// Only an encoded slash needs rewriting: most paths have no `%` at all.
		const pathname = url.pathname.includes("%") ? normalizeScopedPath(url.pathname) : url.pathname;
		const head = request.method === "HEAD";
		let routed = request;
		if (pathname !== url.pathname || head) {
			url.pathname = pathname;
			routed = new Request(url, head ? { method: "GET", headers: request.headers } : request);
		}
		const slash = pathname.indexOf("/", 1);
		const segment = pathname.slice(1, slash === -1 ? undefined : slash);
		// itty-router fills in `params` and `query` as it routes. It compares every route's method
		// with `request.method`, a getter into the runtime that makes a new string per call: read once.
		const routeRequest = Object.defineProperty(Object.assign(routed, { head, parsed: url }), "method", {
			value: routed.method,
		}) as unknown as RouteRequest;
		const table = LOADER_SEGMENTS.has(segment) ? loaders : OWN_SEGMENTS.has(segment) ? api : packages;
		// A read of a path seen before goes to the route it matched then (matched-routes.ts).
		const response = await routeRead(table, routeRequest, env, ctx);
		recordRequest(env, ctx, routeKey(routeRequest), response, started);
		if (!head) return response;
		// A streamed body (a large packument's) is let go of, not left open to its object.
		response.body?.cancel().catch(() => {});
		return new Response(null, response);
	},
};

/** The route a request matched, as the metrics name it: `GET /{name}/-/{file}` (scoped or not). */
function routeKey(request: RouteRequest): string {
	return metricsRouteName(request.method, (request as unknown as { route?: string }).route ?? "*");
}

/**
 * A registry without its secrets cannot authenticate anyone or sign URLs: every route but /health
 * answers 503 naming what is missing (start-up reports it too), never a 500 halfway into a write.
 */
function refuseWhileMisconfigured(request: RouteRequest, env: Env): Response | undefined {
	const { missingSecrets } = config(env);
	if (missingSecrets.length === 0 || urlOf(request).pathname === "/health") return undefined;
	return refused.misconfigured(missingSecrets).toResponse();
}

/** Anything not routed: an unknown endpoint of the registry's own, not a package called "-". */
export const unknownRoute = route({ auth: "none", cache: "none" }, () => {
	throw refused.unknownEndpoint();
});

api
	.get("/health", health)
	.get("/-/ping", ping)
	.get("/-/whoami", whoami)
	.post("/-/v1/login", noWebLogin)
	.put("/-/user/:couchId", login)
	.get("/-/user/:couchId", getUserDocument)
	.delete("/-/user/token/:token", logout)
	.get("/-/user/:user/package", listUserPackages)
	.get("/-/org/:scope/package", listScopePackages)
	.get("/-/npm/v1/tokens", listNpmTokens)
	.post("/-/npm/v1/tokens", createNpmToken)
	.delete("/-/npm/v1/tokens/token/:key", revokeNpmToken)
	.post("/-/npm/v1/security/advisories/bulk", noAdvisories)
	.post("/-/npm/v1/hooks/hook", addHook)
	.get("/-/npm/v1/hooks", listHooks)
	.get("/-/npm/v1/hooks/hook/:id", getHook)
	.put("/-/npm/v1/hooks/hook/:id", updateHook)
	.delete("/-/npm/v1/hooks/hook/:id", removeHook)
	.get("/-/npm/v1/keys", listSigningKeys)
	.post("/-/admin/tokens", createToken)
	.get("/-/admin/tokens", listTokens)
	.delete("/-/admin/tokens/:id", revokeToken)
	.post("/-/admin/tokens/:id/rotate", rotateToken)
	.post("/-/admin/tokens/:id/grants", grantToken)
	.delete("/-/admin/tokens/:id/grants", ungrantToken)
	.post("/-/admin/users", createUser)
	.get("/-/admin/users", listUsers)
	.get("/-/admin/users/:name", getUser)
	.post("/-/admin/users/:name/grants", grantUser)
	.delete("/-/admin/users/:name/grants", ungrantUser)
	.post("/-/admin/users/:name/totp", enableTotp)
	.delete("/-/admin/users/:name/totp", disableTotp)
	.post("/-/admin/customers", createCustomer)
	.get("/-/admin/customers", listCustomers)
	.patch("/-/admin/customers/:name", updateCustomer)
	.put("/-/admin/scopes/:scope", setScopePolicy)
	.get("/-/admin/scopes/:scope", getScopePolicy)
	.put("/-/admin/retention", setRetentionDefault)
	.get("/-/admin/retention", getRetention)
	.get("/-/admin/audit", adminAudit)
	.get("/-/admin/metrics", readMetrics)
	.post("/-/admin/reindex", startReindex)
	.get("/-/admin/reindex", reindexStatus)
	.get("/-/admin/export", exportRegistry)
	.get("/-/admin/export/blob", exportBlob)
	.get("/-/admin/export/unpublished", exportUnpublished)
	.post("/-/admin/restore", restoreItem)
	.put("/-/admin/restore/blob", restoreBlob)
	.get("/-/admin/backups", listBackups)
	.post("/-/admin/backups", startBackup)
	.get("/-/admin/backups/:id/export", exportBackup)
	.get("/-/admin/backups/:id/blob", backupBlob)
	.post("/-/admin/claims", claimName)
	.get("/-/admin/upstream", upstreamStatus)
	.get("/-/v1/search", search)
	.get("/-/stage", listStaged)
	.get("/-/stage/:id", viewStaged)
	.get("/-/stage/:id/tarball", downloadStaged)
	.post("/-/stage/:id/approve", approveStaged)
	.delete("/-/stage/:id", rejectStaged);

// Orgs and teams (npm org, npm team, npm access grant/revoke; worker/orgs/).
api
	.get("/-/org/:org", getOrg)
	.patch("/-/org/:org", setOrgSettings)
	.get("/-/org/:org/setup", orgSetup)
	.put("/-/org/:org/user", setOrgMember)
	.delete("/-/org/:org/user", removeOrgMember)
	.get("/-/org/:org/user", listOrgMembers)
	.put("/-/org/:scope/team", createTeam)
	.get("/-/org/:scope/team", listTeams)
	.delete("/-/team/:scope/:team", destroyTeam)
	.put("/-/team/:scope/:team/user", addTeamMember)
	.delete("/-/team/:scope/:team/user", removeTeamMember)
	.get("/-/team/:scope/:team/user", listTeamMembers)
	.put("/-/team/:scope/:team/package", grantTeamPackage)
	.delete("/-/team/:scope/:team/package", revokeTeamPackage)
	.get("/-/team/:scope/:team/package", listTeamPackages);

for (const scoped of ["/@:scope/:pkg", "/:pkg"]) {
	api
		.put(`/-/admin/import${scoped}`, importVersion)
		.put(`/-/admin/import${scoped}/-/metadata`, importMetadata)
		.get(`/-/package${scoped}/dist-tags`, listDistTags)
		.put(`/-/package${scoped}/dist-tags/:tag`, setDistTag)
		.post(`/-/package${scoped}/dist-tags/:tag`, setDistTag)
		.delete(`/-/package${scoped}/dist-tags/:tag`, deleteDistTag)
		.get(`/-/package${scoped}/visibility`, getVisibility)
		.post(`/-/package${scoped}/access`, setAccess)
		.get(`/-/package${scoped}/collaborators`, listCollaborators)
		.get(`/-/downloads/point/:period${scoped}`, pointDownloads)
		.get(`/-/downloads/range/:period${scoped}`, rangeDownloads)
		.get(`/-/downloads/versions${scoped}/:period`, versionDownloads)
		.get(`/-/package${scoped}/trust`, listTrust)
		.post(`/-/package${scoped}/trust`, addTrust)
		.delete(`/-/package${scoped}/trust/:id`, revokeTrust)
		.post(`/-/npm/v1/oidc/token/exchange/package${scoped}`, exchangeIdToken)
		.post(`/-/stage/package${scoped}`, stagePackage);
}

// Web-component loaders: channels, versions, uploads, immutable files, the loader module. Channel
// lookups first, the loaders' hottest route (a channel path has no other route's shape).
loaders.get("/packages/@:scope/:pkg/channels/:channel", getChannel).get("/packages/:pkg/channels/:channel", getChannel);
loaders.get("/loader.js", serveLoader).options("/packages/*", preflight).options("/files/*", preflight);
loaders.get("/files/:path+", serveFile);
for (const name of ["/packages/@:scope/:pkg", "/packages/:pkg"]) {
	loaders
		.get(`${name}/channels`, listChannels)
		.post(`${name}/channels/:channel`, publishToChannel)
		.delete(`${name}/channels/:channel`, removeChannel)
		.get(`${name}/channels/:channel/history`, getChannelHistory)
		.get(`${name}/channels/:channel/importmap`, getImportMap)
		.post(`${name}/channels/:channel/rollback`, rollbackChannel)
		.post(`${name}/channels/:channel/promote`, promoteChannel)
		.post(`${name}/channels/:channel/rollout`, startRollout)
		.patch(`${name}/channels/:channel/rollout`, changeRollout)
		.post(`${name}/channels/:channel/rollout/complete`, completeRollout)
		.post(`${name}/channels/:channel/rollout/revert`, revertRollout)
		.get(`${name}/versions`, listVersions)
		.get(`${name}/versions/:version`, getVersionInfo)
		.delete(`${name}/versions/:version`, deleteVersion)
		.post(`${name}/upload`, uploadBundle)
		.get(`${name}/audit`, packageAudit);
}

// What the loaders' table does not serve, as the registry's own table answers it.
loaders.put("/:pkg", putPackage).all("*", unknownRoute);

// Pages for people (worker/web/): HTML, a session cookie instead of a header, forms checked by Origin.
api
	.get("/", homePage)
	.get("/search", searchPage)
	.get("/-/signin", signInPage)
	.post("/-/signin", signIn)
	.post("/-/signout", signOut)
	.get("/-/dashboard", dashboardPage)
	.get("/-/orgs/:org", orgPage)
	.post("/-/orgs/:org", orgForm)
	.get("/-/dashboard/operations", operationsPage)
	.get("/-/dashboard/tokens", adminTokensPage)
	.post("/-/dashboard/tokens", adminTokensForm)
	.get("/-/dashboard/users", adminUsersPage)
	.post("/-/dashboard/users", adminUsersForm)
	.get("/-/dashboard/customers", adminCustomersPage)
	.post("/-/dashboard/customers", adminCustomersForm)
	.get("/-/dashboard/scopes", adminScopesPage)
	.post("/-/dashboard/scopes", adminScopesForm)
	.get("/-/web/site.css", serveStylesheet)
	.get("/-/web/site.js", serveScript);
for (const name of ["/package/@:scope/:pkg", "/package/:pkg"]) {
	api
		.get(name, packagePage)
		.get(`${name}/v/:version`, packagePage)
		.get(`${name}/v/:version/files`, filesPage)
		.get(`${name}/v/:version/files/:path+`, fileViewPage)
		.post(`${name}/channels/:channel/rollback`, rollbackFromPage)
		.post(`${name}/channels/:channel/rollout`, rolloutFromPage)
		.post(`${name}/channels/:channel/rollout/complete`, completeRolloutFromPage)
		.post(`${name}/channels/:channel/rollout/revert`, revertRolloutFromPage)
		.post(`${name}/promote`, promoteFromPage)
		.post(`${name}/stage/:id/approve`, approveFromPage)
		.post(`${name}/stage/:id/reject`, rejectFromPage);
}

// A publish to one of the registry's own names is refused as npm would refuse a bad name (400).
api.put("/:pkg", putPackage);
// Anything else of the registry's own is an unknown endpoint, not a package called "-".
api.all("*", unknownRoute);

// Installs' packuments and tarballs first, the hottest routes: itty-router tries routes in order.
// A packument's path has one segment, or two for a scoped name, a tarball's `-` in the second or
// third, and no other route matches either.
packages
	.get("/:pkg", getPackument)
	.get("/@:scope/:pkg", getPackument)
	.get("/@:scope/:pkg/-/:file", getTarball)
	.get("/:pkg/-/:file", getTarball);
// Every scoped route before every unscoped one: `/:pkg/:version` would also match `/@scope/name`.
for (const name of ["/@:scope/:pkg", "/:pkg"]) {
	packages
		.delete(`${name}/-/:file/-rev/:rev`, deleteTarball)
		.put(`${name}/-rev/:rev`, putPackage)
		.delete(`${name}/-rev/:rev`, unpublishPackage)
		.get(`${name}/:version`, getVersion)
		.put(name, putPackage);
}

packages.all("*", unknownRoute);

export { router };
