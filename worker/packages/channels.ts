import type { PackageName } from "../../schema/names";
import type { Access, ChannelView } from "../../schema/package/contract";
import { can } from "../auth/permissions";
import { cacheControl } from "../cache-control";
import { packageRead } from "../guards";
import { json, revalidatedJson } from "../http";
import { channelParam } from "../params";
import { channelBody } from "./views";

// Channel lookups for web-component loaders. Answers are revalidated on every load (no-cache with
// an ETag): a rollback shows at the next page load, and an unchanged channel costs a 304.

/** GET /packages/{name}/channels */
export const listChannels = packageRead(
	async (stub) => stub.channels(),
	({ request, value }) => {
		const channels = value.channels.map((c) => ({
			channel: c.channel,
			version: c.version,
			versionId: c.versionId,
			publishedAt: c.publishedAt,
			historyId: c.historyId,
		}));
		return revalidatedJson(request, { packageId: value.packageId, channels }, value.access);
	},
	{ route: "channels", revalidateByRevision: true },
);

/** GET /packages/{name}/channels/{channel} */
export const getChannel = packageRead(
	async (stub, request) => stub.channel(channelParam(request.params)),
	async ({ request, env, pkg, value }) =>
		revalidatedJson(request, await channelBody(request, env, pkg.name, value.access, value), value.access),
	{ route: "channel", revalidateByRevision: true },
);

/** GET /packages/{name}/channels/{channel}/importmap: a fragment for pages that use import maps. */
export const getImportMap = packageRead(
	async (stub, request) => stub.channel(channelParam(request.params)),
	async ({ request, env, pkg, value }) =>
		revalidatedJson(request, await importMap(request, env, pkg, value.access, value), value.access),
	{ route: "importmap", revalidateByRevision: true },
);

async function importMap(request: Request, env: Env, pkg: PackageName, access: Access, view: ChannelView) {
	const { index, baseUri, integrity } = await channelBody(request, env, pkg.name, access, view);
	return {
		imports: { ...(index === null ? {} : { [pkg.name]: index }), [`${pkg.name}/`]: `${baseUri}/` },
		integrity: index !== null && integrity !== null ? { [index]: integrity } : {},
	};
}

/**
 * GET /packages/{name}/channels/{channel}/history: newest first, the current row marked. Who moved
 * the channel is shown with the token prefix they used only to the package's publishers.
 */
export const getChannelHistory = packageRead(
	async (stub, request) => stub.channelHistory(channelParam(request.params)),
	({ request, pkg, principal, value }) => {
		const publisher = can(principal, pkg, "publish");
		const history = publisher
			? value.entries
			: value.entries.map((entry) => ({ ...entry, by: withoutToken(entry.by) }));
		return json(
			{ channel: channelParam(request.params), history },
			{ headers: { "cache-control": cacheControl.personal } },
		);
	},
);

/** `alice (dev_a3f8e2c1)` → `alice`. */
function withoutToken(label: string): string {
	const paren = label.lastIndexOf(" (");
	return paren === -1 ? label : label.slice(0, paren);
}
