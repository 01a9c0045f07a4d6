import { MoveChannelSchema, PromoteSchema, RollbackSchema } from "../../schema/requests/channels";
import { unwrap } from "../errors";
import { packageWrite } from "../guards";
import { json, readJson, readOptionalJson } from "../http";
import { channelName, channelParam, versionNumber } from "../params";
import { assertNoChannelTypo } from "./channel-typos";
import { channelBody } from "./views";

// Moving channels: publish a version to a channel, roll it back, promote one channel to another,
// remove it. Each needs `publish` on the package; customer keys can never do it.

const channelWrite = { auth: "write", need: ["publish"], mustExist: true, cache: "none" } as const;

/** POST /packages/{name}/channels/{channel} { version } | { versionId } */
export const publishToChannel = packageWrite(channelWrite, async ({ request, env, pkg, stub, actor, info }) => {
	const body = await readJson(request, MoveChannelSchema);
	const ref = "version" in body ? { version: versionNumber(body.version) } : { versionId: body.versionId };
	const channel = channelParam(request.params);
	await assertNoChannelTypo(stub, channel, body.create);
	const view = unwrap(await stub.moveChannel(channel, ref, actor));
	return json(await channelBody(request, env, pkg.name, info.access, view), { status: 201 });
});

/** POST /packages/{name}/channels/{channel}/rollback [{ to: historyId }] */
export const rollbackChannel = packageWrite(channelWrite, async ({ request, env, pkg, stub, actor, info }) => {
	const { to } = await readOptionalJson(request, RollbackSchema);
	const view = unwrap(await stub.rollbackChannel(channelParam(request.params), to, actor));
	return json(await channelBody(request, env, pkg.name, info.access, view));
});

/** POST /packages/{name}/channels/{to}/promote { from } */
export const promoteChannel = packageWrite(channelWrite, async ({ request, env, pkg, stub, actor, info }) => {
	const body = await readJson(request, PromoteSchema);
	const from = channelName(body.from);
	const to = channelParam(request.params);
	await assertNoChannelTypo(stub, to, body.create);
	const view = unwrap(await stub.promoteChannel(to, from, actor));
	return json(await channelBody(request, env, pkg.name, info.access, view), { status: 201 });
});

/** DELETE /packages/{name}/channels/{channel}: the pointer and its history go (as npm dist-tag rm). */
export const removeChannel = packageWrite(channelWrite, async ({ request, stub, actor }) => {
	const { tags } = unwrap(await stub.removeChannel(channelParam(request.params), actor));
	return json({ ok: true, channels: Object.keys(tags) });
});
