import type { Access, ChannelView, VersionView } from "../../schema/package/contract";
import { fileUrl, versionBaseUri } from "../files/urls";

// What the channel API answers about a channel or a version: the object's view plus the URLs a
// browser needs (computed here, because only the Worker knows the public base URL and the secret).

export type VersionLinks = { baseUri: string; index: string | null; integrity: string | null };

export async function versionLinks(
	request: Request,
	env: Env,
	name: string,
	access: Access,
	view: { version: string; entryPath: string | null; entryIntegrity: string | null },
): Promise<VersionLinks> {
	const baseUri = await versionBaseUri(request, env, name, view.version, access);
	return {
		baseUri,
		index: view.entryPath === null ? null : fileUrl(baseUri, view.entryPath),
		integrity: view.entryIntegrity,
	};
}

export async function channelBody(request: Request, env: Env, name: string, access: Access, view: ChannelView) {
	const links = await versionLinks(request, env, name, access, view);
	return {
		packageId: view.packageId,
		channel: view.channel,
		versionId: view.versionId,
		version: view.version,
		publishedAt: view.publishedAt,
		historyId: view.historyId,
		...links,
	};
}

export async function versionBody(request: Request, env: Env, name: string, access: Access, view: VersionView) {
	return {
		packageId: view.packageId,
		versionId: view.versionId,
		version: view.version,
		publishedAt: view.publishedAt,
		deprecated: view.deprecated,
		...(await versionLinks(request, env, name, access, view)),
	};
}
