import type { Actor } from "../../schema/audit";
import { type Grant, GrantSchema, GrantSubjectSchema } from "../../schema/requests/admin";
import { actorOf, assertAdmin } from "../auth/permissions";
import type { CacheName } from "../cache-control";
import { type RouteRequest, validate } from "../http";
import { declare, type Handler, withCache } from "../route-policy";
import { pageForm } from "./channel-forms";
import { type Html, html } from "./html";
import { dateTime } from "./package-page";
import { layout, type PageContext, pageResponse, type Viewer, viewer, webPage } from "./page";

// What the admin pages share (tokens, users, customers, scope policies: admin-tokens.ts,
// admin-users.ts, admin-customers.ts, admin-scopes.ts; #24.3): the guard of the pages and of their
// forms, their navigation, grants read from a form, and the confirmation a form answers with.
// Every form goes through `pageForm` (channel-forms.ts), as the channel forms do: the Origin
// checked first, the body read, refusals answered as pages; then the admin guard with the caller
// from the page's session: a non-admin hears the JSON admin routes' refusal (401, 403).

/** The admin pages, in the order the navigation lists them. */
export const ADMIN_PAGES = [
	["/-/dashboard/tokens", "Tokens"],
	["/-/dashboard/users", "Users"],
	["/-/dashboard/customers", "Customers"],
	["/-/dashboard/scopes", "Scope policies"],
] as const;

export type AdminPath = (typeof ADMIN_PAGES)[number][0];

/** GET of an admin page: the viewer must be the admin; the page is the layout with the admin navigation. */
export function adminPage(
	path: AdminPath,
	render: (context: PageContext) => Promise<{ title: string; body: Html }>,
): Handler {
	return webPage({ auth: "viewer", cache: "personal" }, async (context) => {
		assertAdmin(context.who.principal);
		const { title, body } = await render(context);
		return pageResponse(context.request, context.who, layout({ title, body: html`${adminNav(path)}${body}` }));
	});
}

export type AdminFormContext = {
	request: RouteRequest;
	env: Env;
	who: Viewer;
	actor: Actor;
	/** A field of the form, trimmed ("" when absent). */
	field: (name: string) => string;
	form: URLSearchParams;
};

/**
 * POST of an admin page's form. `cache`: `secret` where an answer may carry a secret shown once
 * (no cache keeps it), else `form`.
 */
export function adminForm(cache: CacheName, handle: (context: AdminFormContext) => Promise<Response>): Handler {
	return pageForm(
		declare(
			async (request, env) => {
				const who = await viewer(request, env);
				assertAdmin(who.principal);
				const form = (request as RouteRequest & { form?: URLSearchParams }).form ?? new URLSearchParams();
				const field = (name: string) => form.get(name)?.trim() ?? "";
				return withCache(cache, await handle({ request, env, who, actor: actorOf(who.principal), field, form }));
			},
			{ auth: "session admin", cache },
		),
	);
}

/** The page again, saying what was done (#24.4's status line, shown by the site's script as text). */
export function confirmed(path: AdminPath, what: string, anchor: string): Response {
	return new Response(null, {
		status: 303,
		headers: { location: `${path}?done=${encodeURIComponent(what)}#${anchor}` },
	});
}

/** A page answering a form directly (a secret shown once): the confirmation is part of it. */
export function answerPage(context: AdminFormContext, title: string, body: Html): Response {
	return pageResponse(context.request, context.who, layout({ title, body }));
}

function adminNav(current: AdminPath): Html {
	return html`<nav class="admin" aria-label="Administration"><a href="/-/dashboard">Dashboard</a>${ADMIN_PAGES.map(
		([path, label]) =>
			path === current
				? html` · <strong aria-current="page">${label}</strong>`
				: html` · <a href="${path}">${label}</a>`,
	)}</nav>`;
}

/** The permission sets a form offers (a grant's permissions are a set of read, upload, publish). */
const PERMISSION_SETS = [
	["read", "read"],
	["read,upload", "read, upload"],
	["read,upload,publish", "read, upload, publish"],
] as const;

/** One grant's fields: a package or @scope, and its permissions. */
export function grantFields(permissions: "all" | "read" = "all"): Html {
	const sets = permissions === "read" ? PERMISSION_SETS.slice(0, 1) : PERMISSION_SETS;
	return html`<label>Package or scope <input name="subject" placeholder="@scope or name" autocomplete="off"></label>
<label>Permissions <select name="permissions">${sets.map(([value, label]) => html`<option value="${value}">${label}</option>`)}</select></label>`;
}

/** A grant from a form's `subject` and `permissions`, validated by the API's schema (`@scope` alone is a scope). */
export function grantOf(subject: string, permissions: string): Grant {
	const set = permissions.split(",").filter((p) => p !== "");
	return validate(
		GrantSchema,
		isScope(subject) ? { scope: subject, permissions: set } : { package: subject, permissions: set },
	);
}

/** Every filled grant row of a form (rows with no subject are left out). */
export function grantsOf(form: URLSearchParams): Grant[] {
	const permissions = form.getAll("permissions");
	return form
		.getAll("subject")
		.map((subject, i) => [subject.trim(), permissions[i] ?? "read"] as const)
		.filter(([subject]) => subject !== "")
		.map(([subject, set]) => grantOf(subject, set));
}

/** The subject of a grant to remove, validated by the API's schema. */
export function grantSubjectOf(subject: string): { package: string } | { scope: string } {
	return validate(GrantSubjectSchema, isScope(subject) ? { scope: subject } : { package: subject });
}

function isScope(subject: string): boolean {
	return subject.startsWith("@") && !subject.includes("/");
}

export function grantSubject(grant: Grant): string {
	return "scope" in grant ? grant.scope : grant.package;
}

/** `@acme (every package): read, publish` */
export function grantText(grant: Grant): string {
	const subject = "scope" in grant ? `${grant.scope} (every package)` : grant.package;
	return `${subject}: ${grant.permissions.join(", ")}`;
}

/** A time as people read it in an incident, or a dash for never. */
export function when(iso: string | null): Html {
	return iso === null ? html`–` : html`<time datetime="${iso}">${dateTime(iso)}</time>`;
}

/** `1 token`, `3 tokens`. */
export function count(n: number, noun: string): string {
	return `${n.toLocaleString("en-US")} ${noun}${n === 1 ? "" : "s"}`;
}

/** A row's form to add a grant, folded away until asked for. */
export function addGrant(action: string, fields: Record<string, string>, permissions: "all" | "read" = "all"): Html {
	return html`<details class="add-grant"><summary>Add a grant</summary>${rowAction(action, "grant", fields, "Grant", grantFields(permissions))}</details>`;
}

/** A hidden field and a button: one action on one row (`confirm`: the question the site's script asks first). */
export function rowAction(
	action: string,
	op: string,
	fields: Record<string, string>,
	label: string,
	extra?: Html,
	confirm?: string,
): Html {
	return html`<form method="post" action="${action}" class="inline"${confirm ? html` data-confirm="${confirm}"` : ""}><input type="hidden" name="op" value="${op}">${Object.entries(
		fields,
	).map(
		([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
	)}${extra ?? ""}<button type="submit">${label}</button></form>`;
}
