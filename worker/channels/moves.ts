import { MoveChannelSchema, PromoteSchema, RollbackSchema } from "../../schema/channels";
import { actorOf, authorizeWrite } from "../auth";
import { notFound, unwrap } from "../errors";
import { decodeParam, json, type RouteRequest, readJson, readOptionalJson } from "../http";
import { parseChannelName, parseVersion } from "../lib/channel-name";
import { packageNameFromParams } from "../lib/package-name";
import { packageObject } from "../objects";
import { channelBody } from "./views";

// Moving channels: publish a version to a channel, roll it back, promote one channel to another,
// remove it. Each needs `publish` on the package; customer keys can never do it.

async function authorizeChannelWrite(request: RouteRequest, env: Env) {
	const pkg = packageNameFromParams(request.params);
	const channel = parseChannelName(decodeParam(request.params.channel));
	const { principal, info } = await authorizeWrite(request, env, pkg, ["publish"]);
	if (!info.exists) throw notFound();
	return { pkg, channel, principal, access: info.access };
}

/** POST /packages/{name}/channels/{channel} { version } | { versionId } */
export async function publishToChannel(request: RouteRequest, env: Env): Promise<Response> {
	const { pkg, channel, principal, access } = await authorizeChannelWrite(request, env);
	const body = await readJson(request, MoveChannelSchema);
	const ref = "version" in body ? { version: parseVersion(body.version) } : { versionId: body.versionId };
	const { view } = unwrap(await packageObject(env, pkg).moveChannel(channel, ref, actorOf(principal)));
	return json(await channelBody(request, env, pkg.name, access, view), { status: 201 });
}

/** POST /packages/{name}/channels/{channel}/rollback [{ to: historyId }] */
export async function rollbackChannel(request: RouteRequest, env: Env): Promise<Response> {
	const { pkg, channel, principal, access } = await authorizeChannelWrite(request, env);
	const { to } = await readOptionalJson(request, RollbackSchema);
	const { view } = unwrap(await packageObject(env, pkg).rollbackChannel(channel, to, actorOf(principal)));
	return json(await channelBody(request, env, pkg.name, access, view));
}

/** POST /packages/{name}/channels/{to}/promote { from } */
export async function promoteChannel(request: RouteRequest, env: Env): Promise<Response> {
	const { pkg, channel, principal, access } = await authorizeChannelWrite(request, env);
	const from = parseChannelName((await readJson(request, PromoteSchema)).from);
	const { view } = unwrap(await packageObject(env, pkg).promoteChannel(channel, from, actorOf(principal)));
	return json(await channelBody(request, env, pkg.name, access, view), { status: 201 });
}

/** DELETE /packages/{name}/channels/{channel}: the pointer and its history go (as npm dist-tag rm). */
export async function removeChannel(request: RouteRequest, env: Env): Promise<Response> {
	const { pkg, channel, principal } = await authorizeChannelWrite(request, env);
	const { tags } = unwrap(await packageObject(env, pkg).removeChannel(channel, actorOf(principal)));
	return json({ ok: true, channels: Object.keys(tags) });
}
