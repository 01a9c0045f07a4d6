import semver from "semver";
import { packageObject } from "../../durable-objects/stubs";
import { etagMatches } from "../../schema/etag";
import { readBlob } from "../blob-cache";
import { cacheControl } from "../cache-control";
import { notFound } from "../errors";
import type { RouteRequest } from "../http";
import { packageName } from "../params";
import { isCapabilityFor } from "./capability";
import { contentTypeFor } from "./content-types";

// GET /files/{name}@{version}/{path} and /files/~{capability}/{name}@{version}/{path}: one file
// of one version, read from the version's file bundle with a single ranged R2 read. Versions are
// immutable, so every answer can be cached forever; anything that is not exactly a stored file
// of an exact version (tags, `..`, encoded slashes, directories) is a 404.

type FileAddress = { capability: string | null; name: string; version: string; path: string };

export async function serveFile(request: RouteRequest, env: Env): Promise<Response> {
	const address = parseFileAddress(new URL(request.url).pathname);
	if (!address) throw notFound();
	const pkg = packageName(address.name);
	const found = await packageObject(env, pkg.name).file(address.version, address.path);
	if (!found.ok) throw notFound();
	const readable =
		address.capability === null
			? found.value.access === "public"
			: await isCapabilityFor(env, address.capability, pkg.name, address.version);
	if (!readable) throw notFound();

	const { file, key } = found.value;
	const etag = `"${file.sha256}"`;
	const headers: Record<string, string> = {
		"content-type": contentTypeFor(file.path),
		etag,
		"cache-control": cacheControl.immutable("public"),
		"cross-origin-resource-policy": "cross-origin",
		"x-content-type-options": "nosniff",
	};
	if (file.path.toLowerCase().endsWith(".svg")) {
		headers["content-security-policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox";
	}
	if (etagMatches(request.headers.get("if-none-match"), etag)) {
		return new Response(null, { status: 304, headers });
	}
	if (file.size === 0) return new Response(new Uint8Array(), { headers: { ...headers, "content-length": "0" } });
	const body = await readBlob(env.BLOBS, key, file.size, { offset: file.offset, length: file.size });
	if (!body) throw notFound();
	return new Response(body, { headers: { ...headers, "content-length": String(file.size) } });
}

/** Splits a /files/ path; null for anything that cannot name one stored file. */
function parseFileAddress(pathname: string): FileAddress | null {
	const segments = pathname.split("/").slice(2); // "", "files", …
	let decoded: string[];
	try {
		decoded = segments.map((s) => decodeURIComponent(s));
	} catch {
		return null;
	}
	if (decoded.some((s) => s === "" || s === "." || s === ".." || s.includes("/") || s.includes("\\"))) return null;
	let capability: string | null = null;
	if (decoded[0]?.startsWith("~")) {
		capability = decoded[0].slice(1);
		decoded.shift();
	}
	const scoped = decoded[0]?.startsWith("@") ?? false;
	const idParts = decoded.slice(0, scoped ? 2 : 1);
	const path = decoded.slice(scoped ? 2 : 1).join("/");
	const id = idParts.join("/");
	const at = id.lastIndexOf("@");
	if (at <= 0 || path === "") return null;
	const version = id.slice(at + 1);
	if (semver.valid(version) !== version) return null;
	return { capability, name: id.slice(0, at), version, path };
}
