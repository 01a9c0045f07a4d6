import { DistTagBodySchema } from "../../schema/npm";
import { actorOf, authorizeRead, authorizeWrite } from "../auth";
import { notFound, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest, readJson } from "../http";
import { parseChannelName, parseVersion } from "../lib/channel-name";
import { packageNameFromParams } from "../lib/package-name";
import { packageObject } from "../objects";

// npm dist-tag ls/add/rm. A dist-tag is a channel: moving one appends to that channel's history.

/** GET /-/package/{name}/dist-tags */
export async function listDistTags(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const { result } = await authorizeRead(request, env, pkg, async (stub) => stub.distTags());
	return json(result.tags, { headers: { "cache-control": "private, no-cache" } });
}

/** PUT /-/package/{name}/dist-tags/{tag} with the version as a JSON string. */
export async function setDistTag(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const tag = parseChannelName(decodeParam(request.params.tag));
	const { principal, info } = await authorizeWrite(request, env, pkg, ["publish"]);
	if (!info.exists) throw notFound();
	const version = parseVersion(await readJson(request, DistTagBodySchema));
	unwrap(await packageObject(env, pkg).moveChannel(tag, { version }, actorOf(principal)));
	return json({ ok: true, [tag]: version }, { status: 201 });
}

/** DELETE /-/package/{name}/dist-tags/{tag}; `latest` stays. */
export async function deleteDistTag(request: RouteRequest, env: Env): Promise<Response> {
	const pkg = packageNameFromParams(request.params);
	const tag = parseChannelName(decodeParam(request.params.tag));
	const { principal, info } = await authorizeWrite(request, env, pkg, ["publish"]);
	if (!info.exists) throw notFound();
	const result = unwrap(await packageObject(env, pkg).removeChannel(tag, actorOf(principal)));
	return json({ ok: true, "dist-tags": result.tags });
}
