import { can } from "../auth/permissions";
import { packageRead } from "../guards";
import { json, revalidatedJson } from "../http";
import { channelParam } from "../params";

// A package's channels and a channel's history (the lookups loaders make are in channel-lookup.ts).

/** GET /packages/{name}/channels */
export const listChannels = packageRead(
	{ auth: "read", cache: "revalidate", tier: { route: "channels", revalidateByRevision: true } },
	async (stub) => stub.channels(),
	({ request, value }) => {
		const channels = value.channels.map((c) => ({
			channel: c.channel,
			version: c.version,
			versionId: c.versionId,
			publishedAt: c.publishedAt,
			historyId: c.historyId,
			...(c.rollout ? { rollout: { version: c.rollout.version, percent: c.rollout.percent } } : {}),
		}));
		return revalidatedJson(request, { packageId: value.packageId, channels });
	},
);

/**
 * GET /packages/{name}/channels/{channel}/history: newest first, the current row marked. Who moved
 * the channel is shown with the token prefix they used only to the package's publishers.
 */
export const getChannelHistory = packageRead(
	{ auth: "read", cache: "personal" },
	async (stub, request) => stub.channelHistory(channelParam(request.params)),
	({ request, pkg, principal, value }) => {
		const publisher = can(principal, pkg, "publish");
		const history = publisher
			? value.entries
			: value.entries.map((entry) => ({ ...entry, by: withoutToken(entry.by) }));
		return json({ channel: channelParam(request.params), history });
	},
);

/** `alice (dev_a3f8e2c1)` → `alice`. */
function withoutToken(label: string): string {
	const paren = label.lastIndexOf(" (");
	return paren === -1 ? label : label.slice(0, paren);
}
