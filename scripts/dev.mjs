// `npm run dev`: `wrangler dev`, the edit loop with live reload, on the secrets `npm start` uses
// (created on the first run of either) and the same state (.wrangler/state). HOST, PORT,
// PERSIST_TO and DEV_VARS work as for `npm start`; arguments are passed on to wrangler dev.

import { spawn } from "node:child_process";
import { join, resolve } from "node:path";
import { devVarsMoved, devVarsPath, ensureSecrets } from "./dev-vars.mjs";

const root = resolve(import.meta.dirname, "..");
// wrangler dev takes its secrets from the file alone once it exists, so it gets all of them.
ensureSecrets();

const args = ["dev", "--ip", process.env.HOST ?? "127.0.0.1", "--port", process.env.PORT ?? "8787"];
if (process.env.PERSIST_TO) args.push("--persist-to", resolve(root, process.env.PERSIST_TO));
// wrangler dev reads the .dev.vars beside wrangler.jsonc by itself; a file elsewhere is named.
if (devVarsMoved) args.push("--env-file", devVarsPath);

const wrangler = spawn(
	process.execPath,
	[join(root, "node_modules", "wrangler", "bin", "wrangler.js"), ...args, ...process.argv.slice(2)],
	{
		cwd: root,
		stdio: "inherit",
		env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
	},
);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => wrangler.kill(signal));
wrangler.on("exit", (code) => process.exit(code ?? 1));
