import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Actor } from "../../schema/audit";
import type { PublishInput } from "../../schema/package/contract";
import type { SearchHit } from "../../schema/search/contract";
import { parseSearchQuery } from "../../worker/search/query";

// Drives a PackageMetadataDO through its RPC methods (schema/package/contract.ts), as the Worker
// does, without HTTP. The object never reads R2, so the keys it is given are made up.

export function packageStub(name: string) {
	return env.PACKAGES.get(env.PACKAGES.idFromName(name));
}

export function actorNamed(name = "alice", prefix: string | null = "dev_0a1b2c3d"): Actor {
	return {
		name,
		email: `${name}@example.com`,
		prefix,
		ip: "192.0.2.1",
		label: prefix === null ? name : `${name} (${prefix})`,
	};
}

/** What storeVersion would hand the object for `name@version`, tagged latest unless told otherwise. */
export function publishInput(name: string, version: string, overrides: Partial<PublishInput> = {}): PublishInput {
	return {
		name,
		version,
		manifest: { name, version, description: `${name} at ${version}` },
		tags: ["latest"],
		access: "public",
		tarball: {
			key: `tarballs/${name}/${version}/t.tgz`,
			integrity: `sha512-${version}`,
			shasum: "0".repeat(40),
			size: 10,
		},
		files: {
			key: `files/${name}/${version}/f.bin`,
			index: [{ path: "index.js", offset: 0, size: 10, sha256: "0".repeat(64) }],
			entryPath: "index.js",
			entryIntegrity: "sha384-entry",
		},
		unpackedSize: 10,
		readme: null,
		readmeHtml: null,
		actor: actorNamed(),
		...overrides,
	};
}

/**
 * Runs the package object's alarm and waits for it, so that buffered downloads are written and the
 * search index has heard the package's current state. A write sets the alarm for "now", so it may
 * already have fired on its own and be waiting on the index, and then runDurableObjectAlarm
 * answers false at once; the alarm always sends the current state, so running it again then is
 * harmless and waits for a delivery.
 */
export async function runPackageAlarm(name: string): Promise<void> {
	const stub = packageStub(name);
	if (await runDurableObjectAlarm(stub)) return;
	await runInDurableObject(stub, (instance) => instance.alarm());
}

/** The package as the search index shows it to the admin, or undefined. */
export async function indexed(name: string): Promise<SearchHit | undefined> {
	const index = env.INDEX.get(env.INDEX.idFromName("index"));
	const query = parseSearchQuery(
		{ text: name, size: "250" },
		{ kind: "admin", ip: null, name: "admin", tokenId: null, prefix: null, email: null },
	);
	const { hits } = await index.search(query);
	return hits.find((hit) => hit.name === name);
}
