import { SELF } from "cloudflare:test";
import { checksums, type Files, gzipTar } from "./tarball";

// Drives the registry over its real HTTP surface (SELF), as npm and the admin would.

export const BASE = "http://registry.test";
export const ADMIN = "test-admin-token";

let counter = 0;
/** A package name no other test uses, so tests never share state. */
export function uniqueName(prefix = "pkg"): string {
	counter += 1;
	return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

export function call(path: string, init: RequestInit & { token?: string | null; body?: BodyInit | null } = {}) {
	const headers = new Headers(init.headers);
	if (init.token) headers.set("authorization", `Bearer ${init.token}`);
	if (typeof init.body === "string" && !headers.has("content-type")) headers.set("content-type", "application/json");
	return SELF.fetch(`${BASE}${path}`, { ...init, headers });
}

export type GrantSpec = { package: string; permissions: string[] } | { scope: string; permissions: string[] };

export async function createToken(
	grants: GrantSpec[],
	kind: "developer" | "customer" | "admin" = "developer",
	name = "test",
): Promise<{ id: string; token: string; prefix: string }> {
	const res = await call("/-/admin/tokens", {
		method: "POST",
		token: ADMIN,
		body: JSON.stringify({ kind, name, grants }),
	});
	if (res.status !== 201) throw new Error(`token creation failed: ${res.status} ${await res.text()}`);
	return res.json();
}

export const ALL = ["read", "upload", "publish"];

/** A developer token allowed to do everything with one package (or scope). */
export async function publisherFor(nameOrScope: string): Promise<string> {
	const grant =
		nameOrScope.startsWith("@") && !nameOrScope.includes("/")
			? { scope: nameOrScope, permissions: ALL }
			: { package: nameOrScope, permissions: ALL };
	return (await createToken([grant])).token;
}

export type PublishOptions = {
	files?: Files;
	manifest?: Record<string, unknown>;
	tag?: string;
	access?: "public" | "restricted";
	tarballName?: string;
	tarballVersion?: string;
	integrity?: string;
	shasum?: string;
};

/** The body npm 11 (libnpmpublish) sends for `npm publish`. */
export async function publishBody(name: string, version: string, options: PublishOptions = {}) {
	const manifest = { name, version, description: `${name} description`, main: "index.js", ...options.manifest };
	const packageJson = {
		...manifest,
		...(options.tarballName ? { name: options.tarballName } : {}),
		...(options.tarballVersion ? { version: options.tarballVersion } : {}),
	};
	const tgz = await gzipTar({
		"package.json": JSON.stringify(packageJson),
		"index.js": `export const version = ${JSON.stringify(version)};\n`,
		...options.files,
	});
	const sums = await checksums(tgz);
	return {
		tgz,
		sums,
		body: {
			_id: name,
			name,
			description: manifest.description,
			"dist-tags": { [options.tag ?? "latest"]: version },
			versions: {
				[version]: {
					...manifest,
					_id: `${name}@${version}`,
					dist: {
						integrity: options.integrity ?? sums.integrity,
						shasum: options.shasum ?? sums.shasum,
						tarball: `http://registry.test/${name}/-/${name}-${version}.tgz`,
					},
				},
			},
			access: options.access ?? null,
			_attachments: {
				[`${name}-${version}.tgz`]: {
					content_type: "application/octet-stream",
					data: tgz.toBase64(),
					length: tgz.byteLength,
				},
			},
		},
	};
}

export async function publish(name: string, version: string, token: string, options: PublishOptions = {}) {
	const { body } = await publishBody(name, version, options);
	return call(`/${name.replace("/", "%2f")}`, { method: "PUT", token, body: JSON.stringify(body) });
}

export async function packument(name: string, token: string | null = null, accept?: string) {
	return call(`/${name.replace("/", "%2f")}`, { token, headers: accept ? { accept } : {} });
}

export type VersionDoc = {
	name: string;
	version: string;
	_id: string;
	deprecated?: string;
	dist: { integrity: string; shasum: string; tarball: string; fileCount: number; unpackedSize: number };
	[field: string]: unknown;
};

export type Packument = {
	_id: string;
	_rev: string;
	name: string;
	description?: string;
	"dist-tags": Record<string, string>;
	versions: Record<string, VersionDoc>;
	time: Record<string, string>;
	maintainers: { name: string; email?: string }[];
	readme?: string;
	[field: string]: unknown;
};

/** The full packument as a reader with this token sees it (throws unless 200). */
export async function readPackument(name: string, token: string | null = ADMIN): Promise<Packument> {
	const res = await packument(name, token);
	if (res.status !== 200) throw new Error(`packument ${name}: ${res.status}`);
	return res.json();
}

/** An npm-login user with grants; returns a login token for it. */
export async function userWithToken(
	grants: GrantSpec[],
	name = uniqueName("user"),
	password = "user-password-1",
): Promise<{ name: string; password: string; token: string }> {
	const created = await call("/-/admin/users", {
		method: "POST",
		token: ADMIN,
		body: JSON.stringify({ name, password, email: `${name}@example.com`, grants }),
	});
	if (created.status !== 201) throw new Error(`user creation failed: ${created.status} ${await created.text()}`);
	const login = await call(`/-/user/org.couchdb.user:${name}`, {
		method: "PUT",
		body: JSON.stringify({ name, password }),
	});
	const { token } = (await login.json()) as { token: string };
	return { name, password, token };
}
