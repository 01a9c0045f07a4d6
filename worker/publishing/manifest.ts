// The manifest a version is stored with. The client's document supplies the descriptive fields;
// the fields that decide what an install does come from the tarball's own package.json, so the
// packument can never promise other dependencies or scripts than the bytes carry (the "manifest
// confusion" of the public registry). Fields the registry owns (dist, _id, _npmUser, …) are dropped.

/** Install-relevant fields, taken from the tarball's package.json whatever the document says. */
export const FIELDS_FROM_TARBALL = [
	"dependencies",
	"optionalDependencies",
	"peerDependencies",
	"peerDependenciesMeta",
	"bundleDependencies",
	"bundledDependencies",
	"bin",
	"os",
	"cpu",
	"libc",
	"engines",
	"scripts",
] as const;

const OWNED_BY_REGISTRY = ["dist", "maintainers", "readme", "readmeFilename", "deprecated", "hasInstallScript"];

/** The stored manifest, and the install fields in which the document disagreed with the tarball. */
export function registryManifest(
	document: Record<string, unknown>,
	packageJson: Record<string, unknown>,
	/** The paths of the version's files. */
	paths: string[],
): { manifest: Record<string, unknown>; overridden: string[] } {
	const kept = Object.fromEntries(
		Object.entries(document).filter(
			([key]) =>
				(!key.startsWith("_") || key === "_nodeVersion" || key === "_npmVersion") && !OWNED_BY_REGISTRY.includes(key),
		),
	);
	const fromTarball = installFields(packageJson, paths, kept.name);
	const overridden = FIELDS_FROM_TARBALL.filter(
		(field) => JSON.stringify(kept[field] ?? null) !== JSON.stringify(fromTarball[field] ?? null),
	);
	for (const field of FIELDS_FROM_TARBALL) delete kept[field];
	const scripts = (fromTarball.scripts ?? {}) as Record<string, unknown>;
	const hasInstallScript = ["preinstall", "install", "postinstall"].some((s) => typeof scripts[s] === "string");
	return {
		manifest: {
			...kept,
			...fromTarball,
			...(hasInstallScript ? { hasInstallScript: true } : {}),
			_hasShrinkwrap: paths.includes("npm-shrinkwrap.json"),
		},
		overridden,
	};
}

/** The install fields of a package.json, normalised the way npm normalises them when it publishes. */
function installFields(packageJson: Record<string, unknown>, paths: string[], name: unknown): Record<string, unknown> {
	const fields: Record<string, unknown> = {};
	for (const field of FIELDS_FROM_TARBALL) {
		if (packageJson[field] !== undefined) fields[field] = packageJson[field];
	}
	if (fields.bin !== undefined) fields.bin = normalizeBin(fields.bin, typeof name === "string" ? name : "");
	// A package with a binding.gyp and no install script of its own is built with node-gyp (npm adds it).
	const scripts = { ...((fields.scripts ?? {}) as Record<string, unknown>) };
	const builds = paths.includes("binding.gyp") && packageJson.gypfile !== false;
	if (builds && scripts.install === undefined && scripts.preinstall === undefined) {
		fields.scripts = { ...scripts, install: "node-gyp rebuild" };
	}
	return fields;
}

/** `"cli.js"` → `{ name: "cli.js" }`; `"./bin/x"` → `"bin/x"` (npm's normalize-package-bin). */
function normalizeBin(bin: unknown, name: string): unknown {
	const strip = (path: string) => (path.startsWith("./") ? path.slice(2) : path);
	if (typeof bin === "string") return { [name.slice(name.indexOf("/") + 1)]: strip(bin) };
	if (typeof bin !== "object" || bin === null || Array.isArray(bin)) return bin;
	return Object.fromEntries(
		Object.entries(bin).map(([command, path]) => [command, typeof path === "string" ? strip(path) : path]),
	);
}
