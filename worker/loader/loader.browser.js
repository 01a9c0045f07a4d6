// loader.js, served by the registry at /loader.js. A page imports it and loads a web component
// through a release channel:
//
//   import { load } from "https://registry.example.com/loader.js";
//   const widget = await load("@acc/widget", { channel: "stable", key: "blk_…" });
//
// It looks the channel up (revalidated on every call, so a rollback shows at the next load),
// then imports the channel's entry file with its integrity enforced where the browser can.

const registry = new URL(".", import.meta.url).href.replace(/\/$/, "");
const pinned = new Set();

/**
 * @param {string} name  package name, e.g. "@acc/widget"
 * @param {{ channel?: string, key?: string, registry?: string }} [options]
 * @returns {Promise<object>} the entry module's namespace
 */
export async function load(name, options = {}) {
	const info = await lookup(name, options);
	if (!info.index) throw new Error(`${name}@${info.version} has no entry file to import`);
	if (info.integrity) pinIntegrity(info.index, info.integrity);
	return import(info.index);
}

/** The channel's current state: { packageId, channel, versionId, version, index, baseUri, integrity }. */
export async function lookup(name, { channel = "stable", key, registry: base = registry } = {}) {
	const url = `${base}/packages/${name}/channels/${encodeURIComponent(channel)}`;
	// The browser's default cache mode: the answer says no-cache, so the browser revalidates it
	// with its ETag on every call (a rollback shows at once). `cache: "no-cache"` would add
	// Cache-Control: max-age=0, which asks the registry to skip its read tier on every page load.
	const headers = { "x-client-key": clientKey() };
	if (key) headers.authorization = `Bearer ${key}`;
	const response = await fetch(url, { headers });
	if (!response.ok) {
		const body = await response.json().catch(() => ({}));
		throw new Error(`cannot load ${name}@${channel}: ${response.status} ${body.error ?? response.statusText}`);
	}
	return response.json();
}

/**
 * A key this browser keeps (localStorage) so that a staged rollout gives it the same version on
 * every load while the rollout's percentage only grows. Random, and about nothing but this browser.
 */
function clientKey() {
	try {
		let value = localStorage.getItem("registry-client-key");
		if (!value) {
			value = crypto.randomUUID();
			localStorage.setItem("registry-client-key", value);
		}
		return value;
	} catch {
		// Storage refused (a sandboxed frame, private mode): a key for this page only.
		clientKey.fallback ??= crypto.randomUUID();
		return clientKey.fallback;
	}
}

// Browsers that support import maps (and their `integrity` section) check the entry's hash on
// import; a map added at run time merges into the page's map. Elsewhere the import still works.
function pinIntegrity(url, integrity) {
	if (pinned.has(url) || !HTMLScriptElement.supports?.("importmap")) return;
	const script = document.createElement("script");
	script.type = "importmap";
	script.textContent = JSON.stringify({ integrity: { [url]: integrity } });
	document.head.append(script);
	pinned.add(url);
}
