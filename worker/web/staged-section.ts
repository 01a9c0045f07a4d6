import type { PackageName } from "../../schema/names";
import type { StagedVersion } from "../../schema/trust/contract";
import type { Principal } from "../auth/principal";
import { type Html, html } from "./html";

// The package page's list of staged versions (npm stage publish), shown to its publishers only,
// each with approve and reject forms (worker/web/stage-forms.ts) and a one-time code field where
// the viewer's user has two factors.

export function stagedSection(
	path: string,
	pkg: PackageName,
	staged: StagedVersion[],
	principal: Principal,
): Html | "" {
	if (staged.length === 0) return "";
	const otp = principal.kind === "developer" && principal.totp && !principal.bypassTwoFactor;
	const otpField = (id: string) =>
		otp
			? html`<label for="${id}">One-time code</label> <input id="${id}" name="otp" inputmode="numeric" autocomplete="one-time-code" required size="8">`
			: "";
	return html`<section aria-labelledby="staged-title" id="staged">
<h2 id="staged-title">Staged versions</h2>
<p>Uploaded with <code>npm stage publish</code>; not installable until approved. ${pkg.name} publishers only.</p>
<ul class="plain">
${staged.map(
	(item) => html`<li class="staged">
<span class="version">${item.version}</span> (tag ${item.tag}) staged by ${item.actor} <time datetime="${item.createdAt}">${item.createdAt.slice(0, 10)}</time>, expires <time datetime="${item.expiresAt}">${item.expiresAt.slice(0, 10)}</time>
<form method="post" action="${path}/stage/${item.id}/approve" class="inline">${otpField(`otp-approve-${item.id}`)}<button type="submit">Approve ${item.version}</button></form>
<form method="post" action="${path}/stage/${item.id}/reject" class="inline">${otpField(`otp-reject-${item.id}`)}<button type="submit">Reject</button></form>
</li>`,
)}
</ul>
</section>`;
}
