import { type RegistrySignature, signingKey, signVersion } from "../../schema/signatures";
import type { Versions } from "./versions";

// One of the alarm's jobs: sign the versions published before the registry signed anything (new
// versions arrive signed by the Worker). A few at a time, oldest first, with the current key;
// the object's constructor wakes the alarm while any is left.

const BATCH = 50;

export async function signaturesForUnsigned(
	versions: Versions,
	name: string,
	secret: string | null,
): Promise<{ version: string; signatures: RegistrySignature[] }[]> {
	if (secret === null) return [];
	const key = await signingKey(secret);
	return Promise.all(
		versions.unsigned(BATCH).map(async (row) => ({
			version: row.version,
			signatures: [await signVersion(key, name, row.version, row.integrity)],
		})),
	);
}
