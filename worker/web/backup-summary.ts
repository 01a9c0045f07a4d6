import type { BackupView } from "../../schema/backup/contract";
import { type Html, html } from "./html";

// The dashboard's line about backups: the newest finished one, its size and when it ran, and one
// under way if there is, and the packages it left out because reading them kept failing
// (GET /-/admin/backups lists them all).

export function backupSummary(backups: BackupView[]): Html {
	const last = backups.find((b) => b.state === "done");
	const running = backups.find((b) => b.state === "running");
	return html`<section aria-labelledby="backups-title">
<h2 id="backups-title">Backups</h2>
<dl class="totals">
<div><dt>Last backup</dt><dd>${last ? html`<time datetime="${last.finishedAt ?? last.startedAt}">${(last.finishedAt ?? last.startedAt).slice(0, 16).replace("T", " ")}</time>` : "none yet"}</dd></div>
<div><dt>Its size</dt><dd>${last ? megabytes(last.bytes) : "–"}</dd></div>
<div><dt>Packages in it</dt><dd>${last ? last.packages.toLocaleString("en-US") : "–"}</dd></div>
${last && last.failed.length > 0 ? html`<div><dt>Left out</dt><dd>${last.failed.map((f) => f.name).join(", ")}: reading them kept failing (GET /-/admin/backups says why)</dd></div>` : ""}
${running ? html`<div><dt>Under way</dt><dd>since ${running.startedAt.slice(0, 16).replace("T", " ")}, ${running.packages.toLocaleString("en-US")} packages so far</dd></div>` : ""}
</dl>
</section>`;
}

function megabytes(bytes: number): string {
	return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}
