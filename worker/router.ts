import { Router } from "itty-router";
import { config } from "../schema/config";
import { adminAudit, packageAudit } from "./admin/audit";
import { createCustomer, getScopePolicy, listCustomers, setScopePolicy, updateCustomer } from "./admin/customers";
import { readMetrics } from "./admin/metrics";
import { reindexStatus, startReindex } from "./admin/reindex";
import { createToken, grantToken, listTokens, revokeToken, rotateToken, ungrantToken } from "./admin/tokens";
import { createUser, disableTotp, enableTotp, getUser, grantUser, listUsers, ungrantUser } from "./admin/users";
import { isBrowserFacing, preflight, withCors } from "./cors";
import { pointDownloads, rangeDownloads, versionDownloads } from "./downloads/routes";
import { HttpError, notFound } from "./errors";
import { serveFile } from "./files/serve";
import type { RouteRequest } from "./http";
import { serveLoader } from "./loader/route";
import { getVisibility, listCollaborators, listScopePackages, listUserPackages, setAccess } from "./npm/access";
import { deleteDistTag, listDistTags, setDistTag } from "./npm/dist-tags";
import { putPackage } from "./npm/publish";
import { getPackument, getTarball, getVersion, ping } from "./npm/reads";
import { createNpmToken, listNpmTokens, revokeNpmToken } from "./npm/tokens";
import { deleteTarball, unpublishPackage } from "./npm/unpublish";
import { getUserDocument, health, login, logout, noAdvisories, noWebLogin, whoami } from "./npm/users";
import { promoteChannel, publishToChannel, removeChannel, rollbackChannel } from "./packages/channel-moves";
import { getChannel, getChannelHistory, getImportMap, listChannels } from "./packages/channels";
import { uploadBundle } from "./packages/upload";
import { deleteVersion, getVersionInfo, listVersions } from "./packages/versions";
import { search } from "./search/search";

// The routing table. Scoped names have their own routes (`/@:scope/:pkg…`) registered before the
// unscoped ones, because `/@scope/name` would otherwise read as `/{name}/{version}`; encoded
// slashes (`@scope%2fname`) are rewritten to plain ones before routing (see index.ts).

const router = Router<RouteRequest, [Env, ExecutionContext], Response>({
	before: [refuseWhileMisconfigured],
	catch: (error: unknown) => {
		if (error instanceof HttpError) return error.toResponse();
		console.error("unhandled error", error);
		return new HttpError("internal", "internal server error").toResponse();
	},
	finally: [
		(response: Response, request: RouteRequest) =>
			isBrowserFacing(new URL(request.url).pathname) ? withCors(response) : response,
	],
});

/**
 * A registry without its secrets cannot authenticate anyone or sign URLs: every route but /health
 * answers 503 naming what is missing (start-up reports it too), never a 500 halfway into a write.
 */
function refuseWhileMisconfigured(request: RouteRequest, env: Env): Response | undefined {
	const { missingSecrets } = config(env);
	if (missingSecrets.length === 0 || new URL(request.url).pathname === "/health") return undefined;
	return new HttpError(
		"unavailable",
		`the registry is not configured: set ${missingSecrets.join(" and ")}`,
	).toResponse();
}

router
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
	.get("/-/admin/audit", adminAudit)
	.get("/-/admin/metrics", readMetrics)
	.post("/-/admin/reindex", startReindex)
	.get("/-/admin/reindex", reindexStatus)
	.get("/-/v1/search", search);

for (const scoped of ["/@:scope/:pkg", "/:pkg"]) {
	router
		.get(`/-/package${scoped}/dist-tags`, listDistTags)
		.put(`/-/package${scoped}/dist-tags/:tag`, setDistTag)
		.post(`/-/package${scoped}/dist-tags/:tag`, setDistTag)
		.delete(`/-/package${scoped}/dist-tags/:tag`, deleteDistTag)
		.get(`/-/package${scoped}/visibility`, getVisibility)
		.post(`/-/package${scoped}/access`, setAccess)
		.get(`/-/package${scoped}/collaborators`, listCollaborators)
		.get(`/-/downloads/point/:period${scoped}`, pointDownloads)
		.get(`/-/downloads/range/:period${scoped}`, rangeDownloads)
		.get(`/-/downloads/versions${scoped}/:period`, versionDownloads);
}

// Web-component loaders: channels, versions, uploads, immutable files, the loader module.
router.get("/loader.js", serveLoader).options("/packages/*", preflight).options("/files/*", preflight);
router.get("/files/:path+", serveFile);
for (const name of ["/packages/@:scope/:pkg", "/packages/:pkg"]) {
	router
		.get(`${name}/channels`, listChannels)
		.get(`${name}/channels/:channel`, getChannel)
		.post(`${name}/channels/:channel`, publishToChannel)
		.delete(`${name}/channels/:channel`, removeChannel)
		.get(`${name}/channels/:channel/history`, getChannelHistory)
		.get(`${name}/channels/:channel/importmap`, getImportMap)
		.post(`${name}/channels/:channel/rollback`, rollbackChannel)
		.post(`${name}/channels/:channel/promote`, promoteChannel)
		.get(`${name}/versions`, listVersions)
		.get(`${name}/versions/:version`, getVersionInfo)
		.delete(`${name}/versions/:version`, deleteVersion)
		.post(`${name}/upload`, uploadBundle)
		.get(`${name}/audit`, packageAudit);
}

// Anything else under /-/ is an unknown registry endpoint, not a package called "-".
router.all("/-/*", unknownRoute);

// Every scoped route before every unscoped one: `/:pkg/:version` would also match `/@scope/name`.
for (const name of ["/@:scope/:pkg", "/:pkg"]) {
	router
		.get(`${name}/-/:file`, getTarball)
		.delete(`${name}/-/:file/-rev/:rev`, deleteTarball)
		.put(`${name}/-rev/:rev`, putPackage)
		.delete(`${name}/-rev/:rev`, unpublishPackage)
		.get(`${name}/:version`, getVersion)
		.get(name, getPackument)
		.put(name, putPackage);
}

router.all("*", unknownRoute);

export function unknownRoute(): never {
	throw notFound();
}

export { router };
