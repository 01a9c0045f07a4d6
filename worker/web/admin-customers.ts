import { CreateCustomerSchema } from "../../schema/requests/admin";
import { authStore } from "../auth/auth-store";
import { unwrap } from "../errors";
import { validate } from "../http";
import { refused } from "../refusals";
import { adminForm, adminPage, confirmed, count, rowAction, when } from "./admin-pages";
import { html } from "./html";

// GET /-/dashboard/customers and its forms (POST, op=create|suspend|unsuspend): the named holders
// of customer keys (blk_). Suspending a customer stops every key of theirs at once; reactivating
// restores them. The same store calls and schema as /-/admin/customers.

const PATH = "/-/dashboard/customers";

export const adminCustomersPage = adminPage(PATH, async ({ env }) => {
	const customers = await authStore(env).listCustomers();
	const body = html`<h1>Customers</h1>
<section id="customers" aria-labelledby="customers-title">
<h2 id="customers-title">${count(customers.length, "customer")}</h2>
${
	customers.length === 0
		? html`<p class="empty">None yet.</p>`
		: html`<div class="scroll"><table>
<thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Keys</th><th scope="col">Created</th><th scope="col">Change</th></tr></thead>
<tbody>${customers.map(
				(c) =>
					html`<tr id="customer-${c.name}"><th scope="row">${c.name}</th><td>${c.active ? "active" : "suspended"}</td><td><a href="/-/dashboard/tokens?customer=${encodeURIComponent(c.name)}">${c.keys}</a></td><td>${when(c.createdAt)}</td><td>${
						c.active
							? rowAction(
									PATH,
									"suspend",
									{ customer: c.name },
									"Suspend",
									undefined,
									`Suspend ${c.name}? Every key of theirs stops working at once.`,
								)
							: rowAction(PATH, "unsuspend", { customer: c.name }, "Reactivate")
					}</td></tr>`,
			)}</tbody>
</table></div>`
}
<p class="note">Customer keys are made on the <a href="/-/dashboard/tokens#create">tokens page</a> (kind: customer key).</p>
</section>
<section id="create" aria-labelledby="create-title">
<h2 id="create-title">Add a customer</h2>
<form method="post" action="${PATH}" class="inline">
<input type="hidden" name="op" value="create">
<label>Name <input name="customer" required maxlength="100" autocomplete="off"></label>
<button type="submit">Add customer</button>
</form>
</section>`;
	return { title: "Customers", body };
});

export const adminCustomersForm = adminForm("form", async ({ field, env, actor }) => {
	const store = authStore(env);
	switch (field("op")) {
		case "create": {
			const { name } = validate(CreateCustomerSchema, { name: field("customer") });
			unwrap(await store.createCustomer(name, actor));
			return confirmed(PATH, `Customer ${name} added.`, `customer-${name}`);
		}
		case "suspend":
		case "unsuspend": {
			const active = field("op") === "unsuspend";
			const { customer } = unwrap(await store.setCustomerActive(field("customer"), active, actor));
			const what = active ? "reactivated: their keys work again" : "suspended: none of their keys works";
			return confirmed(PATH, `Customer ${customer.name} ${what}.`, `customer-${customer.name}`);
		}
		default:
			throw refused.unknownAdminForm();
	}
});
