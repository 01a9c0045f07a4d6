import { runScheduledBackup } from "./backup/scheduled";
import { router } from "./router";

export { AuthStoreDO } from "../durable-objects/auth/auth-store";
export { TokenDO } from "../durable-objects/auth/token";
export { BackupDO } from "../durable-objects/backup/backup-store";
export { HooksDO } from "../durable-objects/hooks/hooks";
export { MetricsDO } from "../durable-objects/metrics/metrics";
export { PackageMetadataDO } from "../durable-objects/package/package-metadata";
export { RegistryIndexDO } from "../durable-objects/search/registry-index";

// The registry Worker: every request goes to the router (worker/router.ts). It keeps no state of
// its own; packages, tokens and bytes live in the Durable Objects and R2.

export default {
	fetch: (request, env, ctx) => router.fetch(request, env, ctx),
	scheduled: (controller, env, ctx) => runScheduledBackup(controller, env, ctx),
} satisfies ExportedHandler<Env>;
