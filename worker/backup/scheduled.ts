import { backupObject } from "../../durable-objects/stubs";

// The cron trigger of wrangler.jsonc: starts the day's backup in the BackupDO, whose alarm builds
// it in steps (durable-objects/backup/backup-store.ts). One object call: the handler itself
// stays far inside every limit, whatever the registry holds.

export async function runScheduledBackup(
	controller: ScheduledController,
	env: Env,
	ctx: ExecutionContext,
): Promise<void> {
	ctx.waitUntil(backupObject(env).start(controller.scheduledTime));
}
