import { createExecutionContext, env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { router } from "../worker/router";
import { runPackageAlarm } from "./helpers/package-object";
import { ADMIN, call, publish, publishBody, publisherFor, readPackument, uniqueName } from "./helpers/registry";
import { type ListedKey, type Signature, verifies } from "./helpers/signatures";

// Registry signatures (#13): every version signed with ECDSA P-256 over
// `${name}@${version}:${integrity}`, the signature in DER as npm's `audit signatures` reads it,
// the keys listed at /-/npm/v1/keys in npm's shape; checked here with WebCrypto (tests/e2e checks
// an app's lockfile with node:crypto, as npm does).

type Key = ListedKey;

async function keys(vars: Partial<Env> = {}): Promise<Key[]> {
	const res = await router.fetch(
		new Request("http://registry.test/-/npm/v1/keys"),
		{ ...env, ...vars },
		createExecutionContext(),
	);
	return ((await res.json()) as { keys: Key[] }).keys;
}

async function newSigningKey(): Promise<{ secret: string; spki: string }> {
	const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
		"sign",
		"verify",
	])) as CryptoKeyPair;
	const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
	const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
	return { secret: pkcs8.toBase64(), spki: spki.toBase64() };
}

function signaturesOf(doc: { versions: Record<string, { dist: Record<string, unknown> }> }, version: string) {
	return (doc.versions[version]?.dist.signatures ?? []) as Signature[];
}

describe("registry signatures", () => {
	it("lists the signing key in npm's shape", async () => {
		const [key, ...others] = await keys();
		expect(others).toEqual([]);
		expect(key).toMatchObject({ expires: null, keytype: "ecdsa-sha2-nistp256", scheme: "ecdsa-sha2-nistp256" });
		const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", Uint8Array.fromBase64(key?.key ?? "")));
		expect(key?.keyid).toBe(`SHA256:${digest.toBase64({ omitPadding: true })}`);
	});

	it("signs every version, in both packument forms, with a signature the listed key verifies", async () => {
		const name = uniqueName("signed");
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const full = await readPackument(name, token);
		const abbreviated = (await (
			await call(`/${name}`, { token, headers: { accept: "application/vnd.npm.install-v1+json" } })
		).json()) as { versions: Record<string, { dist: Record<string, unknown> }> };
		const listed = await keys();
		const integrity = full.versions["1.0.0"]?.dist.integrity ?? "";
		for (const doc of [full, abbreviated]) {
			const [signature] = signaturesOf(doc, "1.0.0");
			expect(signature).toBeDefined();
			expect(await verifies(listed, signature as Signature, `${name}@1.0.0:${integrity}`)).toBe(true);
		}
		// Tampered: one flipped byte of the signature, or another message, fails.
		const [signature] = signaturesOf(full, "1.0.0") as [Signature];
		const bytes = Uint8Array.fromBase64(signature.sig);
		bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
		expect(await verifies(listed, { ...signature, sig: bytes.toBase64() }, `${name}@1.0.0:${integrity}`)).toBe(false);
		expect(await verifies(listed, signature, `${name}@1.0.1:${integrity}`)).toBe(false);
	});

	it("signs new versions with a new key after a rotation, and old signatures still verify", async () => {
		const name = uniqueName("rotated");
		const token = await publisherFor(name);
		await publish(name, "1.0.0", token);
		const [old] = await keys();
		const next = await newSigningKey();
		const rotated = {
			REGISTRY_SIGNING_KEY: next.secret,
			REGISTRY_SIGNING_KEYS_RETIRED: JSON.stringify([{ key: old?.key, expires: "2030-01-01T00:00:00.000Z" }]),
		} as Partial<Env>;
		const { body } = await publishBody(name, "1.1.0");
		const published = await router.fetch(
			new Request(`http://registry.test/${name}`, {
				method: "PUT",
				headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
				body: JSON.stringify(body),
			}),
			{ ...env, ...rotated },
			createExecutionContext(),
		);
		expect(published.status).toBe(201);
		const listed = await keys(rotated);
		expect(listed.map((k) => k.expires)).toEqual([null, "2030-01-01T00:00:00.000Z"]);
		expect(listed[1]?.keyid).toBe(old?.keyid);
		const doc = await readPackument(name, token);
		for (const version of ["1.0.0", "1.1.0"]) {
			const [signature] = signaturesOf(doc, version) as [Signature];
			const integrity = doc.versions[version]?.dist.integrity ?? "";
			expect(await verifies(listed, signature, `${name}@${version}:${integrity}`)).toBe(true);
		}
		expect(signaturesOf(doc, "1.0.0")[0]?.keyid).toBe(old?.keyid);
		expect(signaturesOf(doc, "1.1.0")[0]?.keyid).toBe(listed[0]?.keyid);
	});

	it("signs versions published before signing existed, on the package object's alarm", async () => {
		const name = uniqueName("backfill");
		const stub = env.PACKAGES.get(env.PACKAGES.idFromName(name));
		const actor = { name: "old", prefix: null, ip: null, label: "old" };
		for (const version of ["1.0.0", "1.1.0"]) {
			const published = await stub.publish({
				name,
				version,
				manifest: { name, version },
				tags: ["latest"],
				access: "public",
				tarball: { key: `t/${version}`, integrity: `sha512-${version}`, shasum: "0", size: 1 },
				files: { key: `f/${version}`, index: [], entryPath: null, entryIntegrity: null },
				unpackedSize: 1,
				readme: null,
				readmeHtml: null,
				actor,
			});
			expect(published.ok).toBe(true);
		}
		expect(signaturesOf(await readPackument(name, ADMIN), "1.0.0")).toEqual([]);
		await runPackageAlarm(name);
		// A fresh copy: the alarm's write was made in the object, not through this isolate's read tier.
		const fresh = await call(`/${name}`, { token: ADMIN, headers: { "cache-control": "no-cache" } });
		const doc = (await fresh.json()) as { versions: Record<string, { dist: Record<string, unknown> }> };
		const listed = await keys();
		for (const version of ["1.0.0", "1.1.0"]) {
			const [signature] = signaturesOf(doc, version) as [Signature];
			expect(await verifies(listed, signature, `${name}@${version}:sha512-${version}`)).toBe(true);
		}
		const audit = await call(`/-/admin/audit?package=${name}&limit=1`, { token: ADMIN });
		expect(((await audit.json()) as { entries: { action: string; actor: string }[] }).entries[0]).toMatchObject({
			action: "signatures.backfill",
			actor: "registry",
		});
	});
});
