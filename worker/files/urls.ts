import type { Access } from "../../schema/package/contract";
import { publicBaseUrl } from "../http";
import { capabilityFor } from "./capability";

// The immutable URLs of a version's files. Public packages: /files/{name}@{version}/…; restricted
// ones: /files/~{capability}/{name}@{version}/…, the only form under which they are served.

export async function versionBaseUri(
	request: Request,
	env: Env,
	name: string,
	version: string,
	access: Access,
): Promise<string> {
	const base = `${publicBaseUrl(request, env)}/files`;
	const id = `${name}@${version}`;
	return access === "public" ? `${base}/${id}` : `${base}/~${await capabilityFor(env, name, version)}/${id}`;
}

export function fileUrl(baseUri: string, path: string): string {
	return `${baseUri}/${path.split("/").map(encodeURIComponent).join("/")}`;
}
