import { ChangeRolloutSchema, StartRolloutSchema } from "../../schema/requests/channels";
import { unwrap } from "../errors";
import { packageWrite } from "../guards";
import { json, readJson } from "../http";
import { channelParam, versionNumber } from "../params";
import { channelBody } from "./views";

// Staged rollouts on a channel: start one (a share of the clients get another version), widen or
// narrow it, complete it (the version becomes the channel's target) or revert it (everyone back on
// the target). Each needs `publish`; each is one history entry and one audit row.

const channelWrite = { auth: "write", need: ["publish"], mustExist: true, cache: "none" } as const;

/** POST /packages/{name}/channels/{channel}/rollout { version | versionId, percent } */
export const startRollout = packageWrite(channelWrite, async ({ request, env, pkg, stub, actor, info }) => {
	const body = await readJson(request, StartRolloutSchema);
	const ref = "version" in body ? { version: versionNumber(body.version) } : { versionId: body.versionId };
	const view = unwrap(await stub.startRollout(channelParam(request.params), ref, body.percent, actor));
	return json(
		{ ...(await channelBody(request, env, pkg.name, info.access, view)), rollout: view.rollout },
		{ status: 201 },
	);
});

/** PATCH /packages/{name}/channels/{channel}/rollout { percent } */
export const changeRollout = packageWrite(channelWrite, async ({ request, env, pkg, stub, actor, info }) => {
	const { percent } = await readJson(request, ChangeRolloutSchema);
	const view = unwrap(await stub.changeRollout(channelParam(request.params), percent, actor));
	return json({ ...(await channelBody(request, env, pkg.name, info.access, view)), rollout: view.rollout });
});

/** POST /packages/{name}/channels/{channel}/rollout/complete */
export const completeRollout = packageWrite(channelWrite, async ({ request, env, pkg, stub, actor, info }) => {
	const view = unwrap(await stub.completeRollout(channelParam(request.params), actor));
	return json(await channelBody(request, env, pkg.name, info.access, view));
});

/** POST /packages/{name}/channels/{channel}/rollout/revert */
export const revertRollout = packageWrite(channelWrite, async ({ request, env, pkg, stub, actor, info }) => {
	const view = unwrap(await stub.revertRollout(channelParam(request.params), actor));
	return json(await channelBody(request, env, pkg.name, info.access, view));
});
