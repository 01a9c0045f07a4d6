import type { UserView } from "../../schema/auth/contract";
import { PASSWORD_LENGTH } from "../../schema/requests/admin";
import { authStore } from "../auth/auth-store";
import { createAccount } from "../auth/new-user";
import { unwrap } from "../errors";
import { refused } from "../refusals";
import {
	addGrant,
	adminForm,
	adminPage,
	answerPage,
	confirmed,
	count,
	grantFields,
	grantOf,
	grantSubject,
	grantSubjectOf,
	grantsOf,
	grantText,
	rowAction,
	when,
} from "./admin-pages";
import { type Html, html } from "./html";

// GET /-/dashboard/users and its forms (POST, op=create|grant|ungrant|totp-on|totp-off): the
// accounts `npm login` signs in to, made by createAccount as POST /-/admin/users and `npm adduser`
// make them (one schema: the same name and password rules), their grants, and their TOTP second
// factor: off is the admin's reset of a lost authenticator; on answers the enrolment (the
// otpauth:// URI, as the API does) in that answer only, `no-store` (route policy `secret`).

const PATH = "/-/dashboard/users";

export const adminUsersPage = adminPage(PATH, async ({ env }) => {
	const users = await authStore(env).listUsers();
	const body = html`<h1>Users</h1>
<section id="users" aria-labelledby="users-title">
<h2 id="users-title">${count(users.length, "user")}</h2>
${
	users.length === 0
		? html`<p class="empty">None yet.</p>`
		: html`<div class="scroll"><table>
<thead><tr><th scope="col">Name</th><th scope="col">Email</th><th scope="col">Grants</th><th scope="col">Two-factor</th><th scope="col">Created</th></tr></thead>
<tbody>${users.map(userRow)}</tbody>
</table></div>`
}
</section>
${createForm()}`;
	return { title: "Users", body };
});

export const adminUsersForm = adminForm("secret", async (context) => {
	const { field, env, actor } = context;
	const name = field("user");
	const store = authStore(env);
	switch (field("op")) {
		case "create": {
			const input = {
				name: field("name"),
				password: context.form.get("password") ?? "",
				grants: grantsOf(context.form),
				...(field("email") === "" ? {} : { email: field("email") }),
			};
			const user = await createAccount(env, input, actor);
			return confirmed(PATH, `User ${user.name} created: they sign in with npm login.`, `user-${user.name}`);
		}
		case "grant": {
			const grant = grantOf(field("subject"), field("permissions"));
			unwrap(await store.grantUser(name, grant, actor));
			return confirmed(PATH, `${name} granted ${grantText(grant)}.`, `user-${name}`);
		}
		case "ungrant": {
			const subject = grantSubjectOf(field("subject"));
			unwrap(await store.ungrantUser(name, subject, actor));
			const named = "scope" in subject ? subject.scope : subject.package;
			return confirmed(PATH, `${name}: grant on ${named} removed.`, `user-${name}`);
		}
		case "totp-off":
			unwrap(await store.setTotp(name, false, actor));
			return confirmed(PATH, `Two-factor turned off for ${name}: they can enrol again.`, `user-${name}`);
		case "totp-on": {
			const { otpauth } = unwrap(await store.setTotp(name, true, actor));
			const body = html`<p class="done" role="status">Two-factor turned on for ${name}.</p>
<h1>Enrolment for ${name}</h1>
<p>Give this to ${name} to add to an authenticator app. This is the only time it is shown; from now on their writes need a code from it.</p>
<section class="secret"><pre data-lines="otpauth"><code>${otpauth ?? ""}</code></pre><button type="button" class="copy" data-copy="${otpauth ?? ""}" hidden>Copy</button></section>
<p><a href="${PATH}#user-${name}">Back to the users</a></p>`;
			return answerPage(context, `Enrolment for ${name}`, body);
		}
		default:
			throw refused.unknownAdminForm();
	}
});

function userRow(user: UserView): Html {
	return html`<tr id="user-${user.name}"><th scope="row">${user.name}</th><td>${user.email ?? ""}<br><a href="/-/dashboard/tokens?user=${encodeURIComponent(user.name)}">Tokens</a></td>
<td><ul class="grants">${user.grants.map(
		(grant) =>
			html`<li>${grantText(grant)} ${rowAction(PATH, "ungrant", { user: user.name, subject: grantSubject(grant) }, "Remove")}</li>`,
	)}</ul>${addGrant(PATH, { user: user.name })}</td>
<td>${user.twoFactor ? "on" : "off"} ${
		user.twoFactor
			? rowAction(
					PATH,
					"totp-off",
					{ user: user.name },
					"Turn off (reset)",
					undefined,
					`Turn off ${user.name}'s second factor? Their writes no longer need a code until they enrol again.`,
				)
			: rowAction(
					PATH,
					"totp-on",
					{ user: user.name },
					"Turn on",
					undefined,
					`Turn on ${user.name}'s second factor? Their writes need a code from the enrolment shown next.`,
				)
	}</td>
<td>${when(user.createdAt)}</td></tr>`;
}

function createForm(): Html {
	return html`<section id="create" aria-labelledby="create-title">
<h2 id="create-title">Create a user</h2>
<form method="post" action="${PATH}" class="admin-create">
<input type="hidden" name="op" value="create">
<label>Name <input name="name" required pattern="[a-z0-9][a-z0-9._\\-]{0,63}" autocomplete="off"></label>
<label>Email <input name="email" type="email" autocomplete="off"></label>
<label>Password <input name="password" type="password" required minlength="${PASSWORD_LENGTH.min}" maxlength="${PASSWORD_LENGTH.max}" autocomplete="new-password"></label>
<fieldset><legend>Grant</legend><div class="grant-row">${grantFields()}</div></fieldset>
<button type="submit">Create user</button>
</form>
</section>`;
}
