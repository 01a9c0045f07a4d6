import type { AuditEntry } from "../../schema/audit";
import type { OrgView, TeamView } from "../../schema/auth/orgs";
import { ORG_ROLES, TEAM_PERMISSIONS } from "../../schema/auth/orgs";
import type { SearchHit } from "../../schema/search/contract";
import { authStore } from "../auth/auth-store";
import { actorOf } from "../auth/permissions";
import type { Principal } from "../auth/principal";
import { HttpError, unwrap } from "../errors";
import { publicBaseUrl, readBodyBytes } from "../http";
import { packageStub, searchIndexStub } from "../objects";
import { orgCaller, orgChanger, orgParam } from "../orgs/caller";
import { clientSetup } from "../orgs/setup";
import { refused } from "../refusals";
import { route } from "../route-policy";
import { parseSearchQuery } from "../search/query";
import { type Html, html } from "./html";
import { date, packagePath } from "./package-page";
import { anonymousViewer, assertSameOrigin, errorPage, layout, pageResponse, seeOther, viewer, webPage } from "./page";

// GET /-/orgs/{org}: an org's page, for its members and the registry's admin (the dashboard's
// per-org view): its packages with their weekly downloads, its teams with their members and
// grants, its members, recent activity (publishes and channel moves in its packages, membership
// and team changes), and the client set-up of its scope with copy buttons. Owners and admins
// manage members and teams with its forms (POST /-/orgs/{org}, Origin-checked as every form), which
// make the same auth-store changes as npm org and npm team, under the same rules.
// The page is at /-/orgs/ rather than /org/: a first path segment of its own would take a package name.

/** Packages whose own activity the page asks for: one call to each package's object. */
const ACTIVITY_PACKAGES = 5;

export function orgPath(org: string): string {
	return `/-/orgs/${encodeURIComponent(org)}`;
}

export const orgPage = webPage({ auth: "viewer", cache: "personal" }, async ({ request, env, who }) => {
	const org = orgParam(request.params.org);
	const principal = signedIn(who.principal);
	const store = authStore(env);
	const view = unwrap(await store.org(org, orgCaller(principal, false)));
	const query = parseSearchQuery({ text: `scope:${org}`, size: "250" }, principal);
	const [{ hits }, changes] = await Promise.all([
		searchIndexStub(env).search({ ...query, boostExact: false }),
		store.auditLog({ target: `@${org}`, limit: 20 }),
	]);
	const packages = [...hits].sort((a, b) => b.date.localeCompare(a.date));
	const moves = await Promise.all(
		packages.slice(0, ACTIVITY_PACKAGES).map(async (hit) => {
			const log = await packageStub(env, hit.name).auditLog({ limit: 10 });
			return log.ok ? log.value.entries.map((entry) => ({ ...entry, target: hit.name })) : [];
		}),
	);
	const activity = [...changes, ...moves.flat()].sort((a, b) => b.at.localeCompare(a.at)).slice(0, 20);
	const account = principal.kind === "developer" ? principal.account : null;
	const manager = principal.kind === "admin" || ["owner", "admin"].includes(view.members[account ?? ""] ?? "");
	const forms = manager ? { otp: otpField(principal) } : null;
	const body = html`<h1>@${org}</h1>
<p class="note">${Object.keys(view.members).length} members · ${view.teams.length} teams · ${packages.length} packages${view.membersRead ? "" : " · members read only what their teams are granted"}</p>
${packagesSection(packages)}
<div class="columns even">
${teamsSection(org, view, forms)}
${membersSection(org, view, forms)}
</div>
${activitySection(activity)}
${setupSection(org, publicBaseUrl(request, env))}`;
	return pageResponse(request, who, layout({ title: `@${org}`, body }));
});

/** POST /-/orgs/{org} op=…: the page's forms; refusals are pages with the API's status. */
export const orgForm = route({ auth: "viewer", cache: "form" }, async (request, env) => {
	try {
		assertSameOrigin(request, env);
		const org = orgParam(request.params.org);
		const form = new URLSearchParams(new TextDecoder().decode(await readBodyBytes(request, 16 * 1024)));
		const principal = signedIn((await viewer(request, env)).principal);
		// A one-time code typed into the form is handed on as npm's header, where the check reads it.
		const headers = new Headers(request.headers);
		const otp = form.get("otp");
		if (otp) headers.set("npm-otp", otp);
		const caller = await orgChanger(new Request(request.url, { headers }), env, principal);
		const actor = actorOf(principal);
		const store = authStore(env);
		const field = (name: string) => form.get(name)?.trim() ?? "";
		const user = field("user").replace(/^@/, "");
		const team = field("team");
		const pkg = field("package");
		const subject = pkg.startsWith("@") && !pkg.includes("/") ? { scope: pkg } : { package: pkg };
		const permission = TEAM_PERMISSIONS.find((p) => p === field("permission")) ?? "read-only";
		const role = ORG_ROLES.find((r) => r === field("role")) ?? "developer";
		switch (field("op")) {
			case "set-member":
				unwrap(await store.setOrgMember(org, user, role, caller, actor));
				return seeOther(`${orgPath(org)}#members`);
			case "remove-member":
				unwrap(await store.removeOrgMember(org, user, caller, actor));
				return seeOther(`${orgPath(org)}#members`);
			case "create-team":
				unwrap(await store.createTeam(org, team, null, caller, actor));
				return seeOther(`${orgPath(org)}#teams`);
			case "destroy-team":
				unwrap(await store.destroyTeam(org, team, caller, actor));
				return seeOther(`${orgPath(org)}#teams`);
			case "add-to-team":
				unwrap(await store.addTeamMember(org, team, user, caller, actor));
				return seeOther(`${orgPath(org)}#teams`);
			case "remove-from-team":
				unwrap(await store.removeTeamMember(org, team, user, caller, actor));
				return seeOther(`${orgPath(org)}#teams`);
			case "grant":
				unwrap(await store.grantTeam(org, team, subject, permission, caller, actor));
				return seeOther(`${orgPath(org)}#teams`);
			case "revoke":
				unwrap(await store.revokeTeam(org, team, subject, caller, actor));
				return seeOther(`${orgPath(org)}#teams`);
			default:
				throw refused.unknownOrgForm();
		}
	} catch (error) {
		if (!(error instanceof HttpError)) throw error;
		const who = await viewer(request, env).catch(() => null);
		return errorPage(request, who ?? anonymousViewer(request, env), error);
	}
});

type Forms = { otp: Html | "" } | null;

/** A user with TOTP confirms each change with a code (as npm prompts for one). */
function otpField(principal: Principal): Html | "" {
	if (principal.kind !== "developer" || !principal.totp || principal.bypassTwoFactor) return "";
	return html`<label>One-time code <input name="otp" inputmode="numeric" autocomplete="one-time-code" required></label>`;
}

function signedIn(principal: Principal): Exclude<Principal, { kind: "anonymous" }> {
	if (principal.kind === "anonymous") throw refused.logIn("manageOrgs");
	return principal;
}

function packagesSection(packages: SearchHit[]): Html {
	const weekly = packages.reduce((sum, p) => sum + p.weeklyDownloads, 0);
	return html`<section aria-labelledby="packages-title">
<h2 id="packages-title">Packages</h2>
${
	packages.length === 0
		? html`<p class="empty">No packages yet.</p>`
		: html`<div class="scroll"><table>
<caption>${weekly.toLocaleString("en-US")} downloads in the last 7 days</caption>
<thead><tr><th scope="col">Package</th><th scope="col">Version</th><th scope="col">Weekly downloads</th><th scope="col">Updated</th></tr></thead>
<tbody>${packages.map(
				(p) =>
					html`<tr><th scope="row"><a href="${packagePath(p.name)}">${p.name}</a></th><td>${p.version}</td><td>${p.weeklyDownloads.toLocaleString("en-US")}</td><td>${date(p.date)}</td></tr>`,
			)}</tbody>
</table></div>`
}
</section>`;
}

/** `forms`: null for a viewer who changes nothing, else the forms' one-time-code field ("" when none is needed). */
function teamsSection(org: string, view: OrgView, forms: Forms): Html {
	return html`<section id="teams" aria-labelledby="teams-title">
<h2 id="teams-title">Teams</h2>
${view.teams.length === 0 ? html`<p class="empty">No teams yet.</p>` : view.teams.map((team) => teamBlock(org, team, forms))}
${
	forms
		? html`<form method="post" action="${orgPath(org)}" class="inline">
<input type="hidden" name="op" value="create-team">
<label>New team <input name="team" required pattern="[a-z0-9][a-z0-9._~\\-]*"></label>
${forms.otp}<button type="submit">Create team</button>
</form>`
		: ""
}
</section>`;
}

function teamBlock(org: string, team: TeamView, forms: Forms): Html {
	const form = (op: string, fields: Html | string, label: string) =>
		html`<form method="post" action="${orgPath(org)}" class="inline"><input type="hidden" name="op" value="${op}"><input type="hidden" name="team" value="${team.name}">${fields}${forms?.otp ?? ""}<button type="submit">${label}</button></form>`;
	return html`<article class="team" aria-labelledby="team-${team.name}">
<h3 id="team-${team.name}">@${org}:${team.name}</h3>
${team.description ? html`<p>${team.description}</p>` : ""}
<p>Members: ${team.members.length === 0 ? "none" : ""}</p>
<ul>${team.members.map(
		(user) =>
			html`<li>${user} ${forms ? form("remove-from-team", html`<input type="hidden" name="user" value="${user}">`, "Remove") : ""}</li>`,
	)}</ul>
<p>Grants: ${team.grants.length === 0 ? "none" : ""}</p>
<ul>${team.grants.map((grant) => {
		const subject = "package" in grant ? grant.package : `${grant.scope} (every package)`;
		const value = "package" in grant ? grant.package : grant.scope;
		return html`<li>${subject}: ${grant.permission} ${forms ? form("revoke", html`<input type="hidden" name="package" value="${value}">`, "Revoke") : ""}</li>`;
	})}</ul>
${
	forms
		? html`${form("add-to-team", html`<label>Member <input name="user" required></label>`, "Add to team")}
${form(
	"grant",
	html`<label>Package or scope <input name="package" required placeholder="@${org}/name or @${org}"></label>
<label>Permission <select name="permission"><option value="read-only">read-only</option><option value="read-write">read-write</option></select></label>`,
	"Grant",
)}
${form("destroy-team", "", "Destroy team")}`
		: ""
}
</article>`;
}

function membersSection(org: string, view: OrgView, forms: Forms): Html {
	const roleSelect = html`<select name="role">${ORG_ROLES.map((r) => html`<option value="${r}"${r === "developer" ? " selected" : ""}>${r}</option>`)}</select>`;
	return html`<section id="members" aria-labelledby="members-title">
<h2 id="members-title">Members</h2>
<div class="scroll"><table>
<thead><tr><th scope="col">User</th><th scope="col">Role</th>${forms ? html`<th scope="col">Change</th>` : ""}</tr></thead>
<tbody>${Object.entries(view.members).map(
		([user, role]) =>
			html`<tr><th scope="row">${user}</th><td>${role}</td>${
				forms
					? html`<td><form method="post" action="${orgPath(org)}" class="inline"><input type="hidden" name="op" value="remove-member"><input type="hidden" name="user" value="${user}">${forms.otp}<button type="submit">Remove</button></form></td>`
					: ""
			}</tr>`,
	)}</tbody>
</table></div>
${
	forms
		? html`<form method="post" action="${orgPath(org)}" class="inline">
<input type="hidden" name="op" value="set-member">
<label>User <input name="user" required></label>
<label>Role ${roleSelect}</label>
${forms.otp}<button type="submit">Add or change member</button>
</form>`
		: ""
}
</section>`;
}

function activitySection(entries: AuditEntry[]): Html {
	return html`<section aria-labelledby="activity-title">
<h2 id="activity-title">Recent activity</h2>
${
	entries.length === 0
		? html`<p class="empty">Nothing yet.</p>`
		: html`<div class="scroll"><table>
<thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Who</th><th scope="col">Where</th></tr></thead>
<tbody>${entries.map(
				(e) =>
					html`<tr><td><time datetime="${e.at}">${e.at.slice(0, 19).replace("T", " ")}</time></td><td>${e.action}</td><td>${e.actor}</td><td>${e.target ?? ""}</td></tr>`,
			)}</tbody>
</table></div>`
}
</section>`;
}

function setupSection(org: string, base: string): Html {
	const setup = clientSetup(org, base);
	const files: [string, string][] = [
		[".npmrc (npm, pnpm)", setup.npmrc],
		[".yarnrc.yml (yarn)", setup.yarnrc],
		["bunfig.toml (bun)", setup.bunfig],
	];
	return html`<section id="setup" aria-labelledby="setup-title">
<h2 id="setup-title">Set up a project</h2>
<p>Commit one of these to a project using @${org} packages; give it a token in <code>NPM_TOKEN</code>.</p>
${files.map(
	([name, text]) =>
		html`<h3>${name}</h3><pre><code>${text}</code></pre><button type="button" class="copy" data-copy="${text}" hidden>Copy</button>`,
)}
</section>`;
}
