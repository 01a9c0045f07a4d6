import { authorizeRead } from "../auth";
import { notFound } from "../errors";
import { decodeParam, json, type RouteRequest, revalidatedJson } from "../http";
import { parseChannelName } from "../lib/channel-name";
import { packageNameFromParams } from "../lib/package-name";
import { channelBody } from "./views";

// Channel lookups for web-component loaders. Answers are revalidated on every load (no-cache with
// an ETag): a rollback shows at the next page load, and an unchanged channel costs a 304.

/** GET /packages/{name}/channels */
export async function listChannels(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const { result } = await authorizeRead(request, env, pkg, async (stub) => stub.listChannels());
	const channels = result.channels.map((c) => ({
		channel: c.channel,
		version: c.version,
		versionId: c.versionId,
		publishedAt: c.publishedAt,
		historyId: c.historyId,
	}));
	return revalidatedJson(request, { packageId: result.packageId, channels }, result.access);
}

/** GET /packages/{name}/channels/{channel} */
export async function getChannel(request: RouteRequest, env: Env): Promise<Response> {
	const { pkg, access, view } = await readChannel(request, env);
	return revalidatedJson(request, await channelBody(request, env, pkg.name, access, view), access);
}

/** GET /packages/{name}/channels/{channel}/importmap: a fragment for pages that use import maps. */
export async function getImportMap(request: RouteRequest, env: Env): Promise<Response> {
	const { pkg, access, view } = await readChannel(request, env);
	const { index, baseUri, integrity } = await channelBody(request, env, pkg.name, access, view);
	const body = {
		imports: { ...(index === null ? {} : { [pkg.name]: index }), [`${pkg.name}/`]: `${baseUri}/` },
		integrity: index !== null && integrity !== null ? { [index]: integrity } : {},
	};
	return revalidatedJson(request, body, access);
}

/** GET /packages/{name}/channels/{channel}/history: newest first, the current row marked. */
export async function getChannelHistory(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const channel = parseChannelName(decodeParam(request.params.channel));
	const { result } = await authorizeRead(request, env, pkg, async (stub) => stub.channelHistory(channel));
	if (result.entries === null) throw notFound(`channel "${channel}" does not exist`);
	return json({ channel, history: result.entries }, { headers: { "cache-control": "private, no-cache" } });
}

async function readChannel(request: RouteRequest, env: Env) {
	const pkg = packageNameFromParams(request.params);
	const channel = parseChannelName(decodeParam(request.params.channel));
	const { result } = await authorizeRead(request, env, pkg, async (stub) => stub.getChannel(channel));
	if (result.view === null) throw notFound(`channel "${channel}" does not exist`);
	return { pkg, access: result.access, view: result.view };
}
