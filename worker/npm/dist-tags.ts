import { DistTagBodySchema } from "../../schema/requests/npm";
import { unwrap } from "../errors";
import { packageRead, packageWrite } from "../guards";
import { json, readJson } from "../http";
import { channelParam, versionNumber } from "../params";

// npm dist-tag ls/add/rm. A dist-tag is a channel: moving one appends to that channel's history.

/** GET /-/package/{name}/dist-tags */
export const listDistTags = packageRead(
	{ auth: "read", cache: "personal" },
	async (stub) => stub.distTags(),
	({ value }) => json(value.tags),
);

/** PUT /-/package/{name}/dist-tags/{tag} with the version as a JSON string. */
export const setDistTag = packageWrite(
	{ auth: "write", need: ["publish"], mustExist: true, cache: "none" },
	async ({ request, stub, actor }) => {
		const tag = channelParam(request.params, "tag");
		const version = versionNumber(await readJson(request, DistTagBodySchema));
		unwrap(await stub.moveChannel(tag, { version }, actor));
		return json({ ok: true, [tag]: version }, { status: 201 });
	},
);

/** DELETE /-/package/{name}/dist-tags/{tag}; `latest` stays. */
export const deleteDistTag = packageWrite(
	{ auth: "write", need: ["publish"], mustExist: true, cache: "none" },
	async ({ request, stub, actor }) => {
		const tag = channelParam(request.params, "tag");
		const { tags } = unwrap(await stub.removeChannel(tag, actor));
		return json({ ok: true, "dist-tags": tags });
	},
);
