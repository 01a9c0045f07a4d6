import { type Html, html } from "./html";

// The package page's "Install" box: what a person copies to install the package, and it must work
// when pasted. So not one long command per client with `--registry` (it wraps mid-flag and every
// later install forgets the registry), but each client's one set-up file for this registry (only
// the package's scope when it has one, the token from NPM_TOKEN when the package is restricted,
// yarn's http allow-list only when the registry is plain http) and then the plain install
// command. Packages with loader channels also get the `/loader.js` snippet with their channel,
// and for restricted ones, where the key goes. Every block is preformatted: lines never wrap.

export type InstallTarget = {
	/** The package name, and what to install (`name` or `name@version`). */
	name: string;
	spec: string;
	/** The registry's URL, with its trailing slash. */
	registry: string;
	restricted: boolean;
	/** Channels other than `latest`: the loader's. */
	channels: string[];
	/** Point the whole client here, not only the package's scope (upstream packages). */
	wholeRegistry?: boolean;
};

export type ClientLines = { client: string; file: string; setup: string; install: string };

/** Each client's set-up file and install command for this package. */
export function clientLines(target: InstallTarget): ClientLines[] {
	const { spec, registry, restricted } = target;
	const scope = !target.wholeRegistry && target.name.startsWith("@") ? target.name.split("/")[0] : undefined;
	const url = new URL(registry);
	const authority = registry.replace(/^https?:/, "");
	const npmrc = [
		scope ? `${scope}:registry=${registry}` : `registry=${registry}`,
		...(restricted ? [`${authority}:_authToken=\${NPM_TOKEN}`] : []),
	];
	const yarnAuth = restricted ? [`npmAuthToken: "\${NPM_TOKEN}"`, "npmAlwaysAuth: true"] : [];
	const yarnrc = [
		...(scope
			? [
					"npmScopes:",
					`  ${scope.slice(1)}:`,
					`    npmRegistryServer: "${registry}"`,
					...yarnAuth.map((l) => `    ${l}`),
				]
			: [`npmRegistryServer: "${registry}"`, ...yarnAuth]),
		...(url.protocol === "http:" ? [`unsafeHttpWhitelist: ["${url.hostname}"]`] : []),
		// yarn holds back versions younger than its age gate; this registry's own are trusted.
		`npmPreapprovedPackages: ["${scope ? `${scope}/*` : target.name}"]`,
	];
	const bunEntry = restricted ? `{ url = "${registry}", token = "$NPM_TOKEN" }` : `"${registry}"`;
	const bunfig = scope ? ["[install.scopes]", `"${scope}" = ${bunEntry}`] : ["[install]", `registry = ${bunEntry}`];
	return [
		{ client: "npm", file: ".npmrc", setup: npmrc.join("\n"), install: `npm install ${spec}` },
		{ client: "pnpm", file: ".npmrc", setup: npmrc.join("\n"), install: `pnpm add ${spec}` },
		{ client: "yarn", file: ".yarnrc.yml", setup: yarnrc.join("\n"), install: `yarn add ${spec}` },
		{ client: "bun", file: "bunfig.toml", setup: bunfig.join("\n"), install: `bun add ${spec}` },
	];
}

/** The `/loader.js` snippet for a page, or null when the package has no loader channel. */
export function loaderSnippet(target: InstallTarget): string | null {
	const channel = target.channels.includes("stable") ? "stable" : target.channels[0];
	if (channel === undefined) return null;
	const options = [`channel: ${JSON.stringify(channel)}`, ...(target.restricted ? ['key: "blk_…"'] : [])];
	return [
		'<script type="module">',
		`  import { load } from "${target.registry}loader.js";`,
		`  const widget = await load(${JSON.stringify(target.name)}, { ${options.join(", ")} });`,
		"</script>",
	].join("\n");
}

export function installSection(target: InstallTarget): Html {
	const npmrcNote = target.restricted
		? html`<p class="note">The package is restricted: set <code>NPM_TOKEN</code> to a token that may read it.</p>`
		: "";
	const loader = loaderSnippet(target);
	return html`<div class="install">${clientLines(target).map(
		(lines) => html`<section class="client-lines" data-client="${lines.client}" aria-label="${lines.client}">
<h3>${lines.client} <span class="file">${lines.file}</span></h3>
${block(lines.setup, `${lines.client}-setup`)}
${block(lines.install, `${lines.client}-install`)}
</section>`,
	)}
${npmrcNote}
${
	loader === null
		? ""
		: html`<section class="client-lines" data-client="loader" aria-label="loader">
<h3>In a page <span class="file">/loader.js</span></h3>
${block(loader, "loader")}
${target.restricted ? html`<p class="note"><code>key</code> is a customer key (<code>blk_…</code>) with read on this package: pages show it to their visitors, so grant it nothing else.</p>` : ""}
</section>`
}</div>`;
}

function block(text: string, role: string): Html {
	return html`<div class="copyable"><pre data-lines="${role}"><code>${text}</code></pre><button type="button" class="copy" data-copy="${text}" hidden>Copy</button></div>`;
}
