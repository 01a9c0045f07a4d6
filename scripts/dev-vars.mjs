// The local secrets of `npm start` and `npm run dev`: created once, random, in .dev.vars (never
// committed), or in the file DEV_VARS names. Values already there are kept.

import { generateKeyPairSync, randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

export const SECRETS = ["ADMIN_TOKEN", "URL_SIGNING_SECRET", "ENCRYPTION_KEY", "REGISTRY_SIGNING_KEY"];

/** A new value for a secret: random hex, or for the registry's signing key an ECDSA P-256 key (PKCS#8 DER, base64). */
export function newSecret(name) {
	if (name !== "REGISTRY_SIGNING_KEY") return randomBytes(32).toString("hex");
	const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
	return privateKey.export({ type: "pkcs8", format: "der" }).toString("base64");
}

const root = resolve(import.meta.dirname, "..");

/** The file that holds the local secrets: DEV_VARS, else .dev.vars beside wrangler.jsonc. */
export const devVarsPath = resolve(root, process.env.DEV_VARS || ".dev.vars");

/** True when the secrets live somewhere else than where wrangler looks by itself. */
export const devVarsMoved = devVarsPath !== resolve(root, ".dev.vars");

/** Appends a random value for each of `names` that the file does not hold yet. */
export function ensureSecrets(names = SECRETS) {
	let current = existsSync(devVarsPath) ? readFileSync(devVarsPath, "utf8") : "";
	for (const name of names) {
		if (new RegExp(`^${name}=\\S+`, "m").test(current)) continue;
		const line = `${current === "" || current.endsWith("\n") ? "" : "\n"}${name}=${newSecret(name)}\n`;
		mkdirSync(dirname(devVarsPath), { recursive: true });
		appendFileSync(devVarsPath, line, { mode: 0o600 });
		current += line;
		console.log(`created ${name} in ${devVarsPath}`);
	}
	if (names.includes("ADMIN_TOKEN")) console.log(`admin token: ADMIN_TOKEN in ${devVarsPath}`);
}
