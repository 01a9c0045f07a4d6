import type { ScopePolicy } from "../../schema/auth/contract";
import { RetentionDefaultSchema } from "../../schema/requests/admin";
import { changeScopePolicy } from "../admin/customers";
import { authStore } from "../auth/auth-store";
import { unwrap } from "../errors";
import { validate } from "../http";
import { refused } from "../refusals";
import { adminForm, adminPage, confirmed } from "./admin-pages";
import { type Html, html } from "./html";

// GET /-/dashboard/scopes and its forms (POST, op=scope|retention): what PUT /-/admin/scopes/{scope}
// and PUT /-/admin/retention change, through the same function (changeScopePolicy, which also
// drops this isolate's cached policy) and schemas: whether writes to a scope need a second factor,
// how long its pre-release versions are kept, and the registry's default retention.

const PATH = "/-/dashboard/scopes";

export const adminScopesPage = adminPage(PATH, async ({ env }) => {
	const store = authStore(env);
	const [policies, retention] = await Promise.all([store.scopePolicies(), store.retentionSettings()]);
	const fallback = retention.prereleaseRetentionDays;
	const body = html`<h1>Scope policies</h1>
<section id="retention" aria-labelledby="retention-title">
<h2 id="retention-title">Default retention of pre-release versions</h2>
<form method="post" action="${PATH}" class="inline">
<input type="hidden" name="op" value="retention">
<label>Days kept (empty: kept forever) <input name="days" type="number" min="0" max="36500" value="${fallback === null ? "" : String(fallback)}"></label>
<button type="submit">Save default</button>
</form>
</section>
<section id="scopes" aria-labelledby="scopes-title">
<h2 id="scopes-title">Scopes with a policy</h2>
${
	policies.length === 0
		? html`<p class="empty">None: every scope follows the defaults (no second factor required).</p>`
		: html`<div class="scroll"><table>
<thead><tr><th scope="col">Scope</th><th scope="col">Policy</th></tr></thead>
<tbody>${policies.map((policy) => html`<tr id="scope-${policy.scope.slice(1)}"><th scope="row">${policy.scope}</th><td>${policyForm(policy)}</td></tr>`)}</tbody>
</table></div>`
}
</section>
<section id="create" aria-labelledby="create-title">
<h2 id="create-title">Set a scope's policy</h2>
${policyForm(null)}
</section>`;
	return { title: "Scope policies", body };
});

export const adminScopesForm = adminForm("form", async ({ field, form, env, actor }) => {
	switch (field("op")) {
		case "scope": {
			const scope = field("scope");
			const policy = await changeScopePolicy(
				env,
				scope,
				{ requireTwoFactor: form.get("requireTwoFactor") === "on", prereleaseRetentionDays: days(field("days")) },
				actor,
			);
			const retention =
				policy.prereleaseRetentionDays === null
					? "pre-releases kept as the default says"
					: `pre-releases kept ${policy.prereleaseRetentionDays} days`;
			const twoFactor = policy.requireTwoFactor ? "writes need a second factor" : "no second factor required";
			return confirmed(PATH, `${policy.scope}: ${twoFactor}, ${retention}.`, `scope-${policy.scope.slice(1)}`);
		}
		case "retention": {
			const { prereleaseRetentionDays } = validate(RetentionDefaultSchema, {
				prereleaseRetentionDays: days(field("days")),
			});
			unwrap(await authStore(env).setDefaultRetention(prereleaseRetentionDays, actor));
			const what = prereleaseRetentionDays === null ? "kept forever" : `kept ${prereleaseRetentionDays} days`;
			return confirmed(PATH, `By default, pre-release versions are now ${what}.`, "retention");
		}
		default:
			throw refused.unknownAdminForm();
	}
});

/** A days field: empty is null (inherit, or off); anything else the schema checks as a number. */
function days(text: string): number | null {
	return text === "" ? null : Number(text);
}

/** The form of one scope's policy (null: for a scope named in the form). */
function policyForm(policy: ScopePolicy | null): Html {
	return html`<form method="post" action="${PATH}" class="inline">
<input type="hidden" name="op" value="scope">
${policy === null ? html`<label>Scope <input name="scope" required placeholder="@scope" pattern="@[a-z0-9][a-z0-9._~\\-]*" autocomplete="off"></label>` : html`<input type="hidden" name="scope" value="${policy.scope}">`}
<label><input type="checkbox" name="requireTwoFactor"${policy?.requireTwoFactor ? " checked" : ""}> Writes need a second factor</label>
<label>Pre-releases kept, days (empty: the default) <input name="days" type="number" min="0" max="36500" value="${policy === null || policy.prereleaseRetentionDays === null ? "" : String(policy.prereleaseRetentionDays)}"></label>
<button type="submit">${policy === null ? "Set policy" : "Save"}</button>
</form>`;
}
