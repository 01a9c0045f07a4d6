import type { TokenListing } from "../../schema/auth/contract";
import { TOKEN_KINDS } from "../../schema/requests/admin";
import { issueToken, rotateSecret } from "../admin/tokens";
import { authStore } from "../auth/auth-store";
import { unwrap } from "../errors";
import { publicBaseUrl } from "../http";
import { refused } from "../refusals";
import {
	type AdminFormContext,
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

// GET /-/dashboard/tokens and its forms (POST, op=create|rotate|revoke|grant|ungrant): every token
// with its kind, grants, creation, last use and expiry (never a hash or a secret); a token created
// with grants, rotated, revoked, granted more or less. The same functions and store calls as
// /-/admin/tokens (issueToken, rotateSecret: worker/admin/tokens.ts), so the rules are the API's.
// A new or rotated token's plaintext is in the one page answering that form, never in a URL, and
// that answer is `no-store` (route policy `secret`); with the `.npmrc` line that uses it.

const PATH = "/-/dashboard/tokens";

/** GET /-/dashboard/tokens[?user=…|?customer=…]: every token, or one user's or customer's (as the API filters them). */
export const adminTokensPage = adminPage(PATH, async ({ request, env }) => {
	const { user, customer } = request.query;
	const filter =
		typeof user === "string" && user !== ""
			? { user }
			: typeof customer === "string" && customer !== ""
				? { customer }
				: {};
	const tokens = await authStore(env).listTokens(filter);
	const whose =
		"user" in filter ? ` of user ${filter.user}` : "customer" in filter ? ` of customer ${filter.customer}` : "";
	const body = html`<h1>Tokens</h1>
<section id="tokens" aria-labelledby="tokens-title">
<h2 id="tokens-title">${count(tokens.length, "token")}${whose}</h2>
${whose === "" ? "" : html`<p><a href="${PATH}">Every token</a></p>`}
${tokens.length === 0 ? html`<p class="empty">None.</p>` : tokenTable(tokens)}
</section>
${createForm()}`;
	return { title: "Tokens", body };
});

export const adminTokensForm = adminForm("secret", async (context) => {
	const { field, env, actor } = context;
	const id = field("id");
	switch (field("op")) {
		case "create": {
			const expires = field("expires");
			const created = await issueToken(
				env,
				{
					kind: field("kind"),
					name: field("name"),
					grants: grantsOf(context.form),
					...(field("customer") === "" ? {} : { customer: field("customer") }),
					// A date: the token works through the end of that day (UTC).
					...(expires === "" ? {} : { expiresAt: `${expires}T23:59:59Z` }),
				},
				actor,
			);
			return shownOnce(context, created, `Token “${created.name}” created.`);
		}
		case "rotate": {
			const rotated = await rotateSecret(env, id, actor);
			return shownOnce(context, rotated, `Token “${rotated.name}” rotated: its old secret no longer works.`);
		}
		case "revoke": {
			const store = authStore(env);
			const token = unwrap(await store.getToken(id));
			unwrap(await store.revokeToken(id, actor));
			return confirmed(PATH, `Token “${token.name}” (${token.prefix}) revoked: it no longer works.`, "tokens");
		}
		case "grant": {
			const grant = grantOf(field("subject"), field("permissions"));
			const { token } = unwrap(await authStore(env).grantToken(id, grant, actor));
			return confirmed(PATH, `Token “${token.name}” granted ${grantText(grant)}.`, `token-${token.id}`);
		}
		case "ungrant": {
			const subject = grantSubjectOf(field("subject"));
			const { token } = unwrap(await authStore(env).ungrantToken(id, subject, actor));
			const named = "scope" in subject ? subject.scope : subject.package;
			return confirmed(PATH, `Token “${token.name}”: grant on ${named} removed.`, `token-${token.id}`);
		}
		default:
			throw refused.unknownAdminForm();
	}
});

function tokenTable(tokens: TokenListing[]): Html {
	return html`<div class="scroll"><table>
<thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Prefix</th><th scope="col">For</th><th scope="col">Grants</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">Change</th></tr></thead>
<tbody>${tokens.map(tokenRow)}</tbody>
</table></div>`;
}

function tokenRow(token: TokenListing): Html {
	const forWhom = token.user
		? `user ${token.user}`
		: token.customer
			? `customer ${token.customer}`
			: ORIGINS[token.origin];
	return html`<tr id="token-${token.id}"><th scope="row">${token.name}</th><td>${token.kind}${token.readonly ? " (read-only)" : ""}</td><td><code>${token.prefix}</code></td><td>${forWhom}</td>
<td><ul class="grants">${token.grants.map(
		(grant) =>
			html`<li>${grantText(grant)} ${rowAction(PATH, "ungrant", { id: token.id, subject: grantSubject(grant) }, "Remove")}</li>`,
	)}</ul>${addGrant(PATH, { id: token.id }, token.kind === "customer" ? "read" : "all")}</td>
<td>${when(token.createdAt)}</td><td>${when(token.lastUsedAt)}</td><td>${token.expiresAt === null ? "never" : when(token.expiresAt)}</td>
<td>${rowAction(PATH, "rotate", { id: token.id }, "Rotate", undefined, `Rotate ${token.name}? Its current secret stops working at once.`)}${rowAction(PATH, "revoke", { id: token.id }, "Revoke", undefined, `Revoke ${token.name}? It stops working at once.`)}</td></tr>`;
}

function createForm(): Html {
	return html`<section id="create" aria-labelledby="create-title">
<h2 id="create-title">Create a token</h2>
<form method="post" action="${PATH}" class="admin-create">
<input type="hidden" name="op" value="create">
<label>Name <input name="name" required maxlength="100" autocomplete="off"></label>
<label>Kind <select name="kind">${TOKEN_KINDS.map((kind) => html`<option value="${kind}">${KIND_LABELS[kind]}</option>`)}</select></label>
<label>Customer (customer keys only) <input name="customer" autocomplete="off"></label>
<label>Expires after <input name="expires" type="date"></label>
<fieldset><legend>Grants (a customer key's are read only)</legend>
${[1, 2, 3].map(() => html`<div class="grant-row">${grantFields()}</div>`)}
</fieldset>
<button type="submit">Create token</button>
</form>
</section>`;
}

/** Where a token with no user or customer came from. */
const ORIGINS = {
	admin: "made by an admin",
	login: "npm login",
	npm: "npm token create",
	oidc: "trusted publishing",
} as const;

const KIND_LABELS = {
	developer: "developer (dev_…)",
	customer: "customer key (blk_…, read-only)",
	admin: "admin (adm_…)",
} as const;

/**
 * The one page that shows a token's secret: the token, and the `.npmrc` line that authenticates
 * npm (and pnpm) to this registry with it.
 */
function shownOnce(context: AdminFormContext, token: TokenListing & { token: string }, what: string): Response {
	const registry = `${publicBaseUrl(context.request, context.env)}/`;
	const npmrc = `${registry.replace(/^https?:/, "")}:_authToken=${token.token}`;
	const body = html`<p class="done" role="status">${what}</p>
<h1>Copy the token now</h1>
<p>This is the only time the registry shows it: it keeps only a hash. Lost, it can be rotated, never shown again.</p>
<section class="secret" aria-labelledby="secret-title">
<h2 id="secret-title">${token.name} <code>${token.prefix}</code></h2>
<pre data-lines="token"><code>${token.token}</code></pre><button type="button" class="copy" data-copy="${token.token}" hidden>Copy</button>
<h3>The line for .npmrc (npm, pnpm)</h3>
<pre data-lines="npmrc"><code>${npmrc}</code></pre><button type="button" class="copy" data-copy="${npmrc}" hidden>Copy</button>
<p>With <code>registry=${registry}</code> (or <code>@scope:registry=${registry}</code>) where the project does not yet name this registry.</p>
</section>
<p><a href="${PATH}#token-${token.id}">Back to the tokens</a></p>`;
	return answerPage(context, "New token", body);
}
