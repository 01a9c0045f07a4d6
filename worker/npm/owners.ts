import type { PackageInfo } from "../../schema/package/contract";
import { MaintainersDocumentSchema } from "../../schema/requests/npm";
import { authStore } from "../auth/auth-store";
import { unwrap } from "../errors";
import type { WriteContext } from "../guards";
import { json, validate } from "../http";
import { refused } from "../refusals";

/**
 * PUT /{name}/-rev/{rev} with only `maintainers` (npm owner add/rm). Added users get read, upload
 * and publish on the package; removed users lose their grant on it (a scope grant they hold still
 * stands). The packument's maintainers follow.
 */
export async function changeOwners(
	{ env, pkg, actor, stub }: WriteContext<PackageInfo | null>,
	data: unknown,
	rev: string | null,
): Promise<Response> {
	const doc = validate(MaintainersDocumentSchema, data);
	const current = await stub.maintainers();
	if (!current.ok) throw refused.hidden();
	if (rev !== null && rev !== current.value.rev) {
		throw refused.staleRevision(rev);
	}
	const wanted = [...new Set(doc.maintainers.map((m) => m.name))];
	if (wanted.length === 0) throw refused.noOwners();
	const before = current.value.maintainers.map((m) => m.name);
	const store = authStore(env);
	const people = [];
	for (const name of wanted) {
		const user = await store.getUser(name);
		if (!user.ok) throw refused.userNotFound(name);
		people.push(user.value.email ? { name, email: user.value.email } : { name });
	}
	for (const name of wanted.filter((n) => !before.includes(n))) {
		unwrap(await store.grantUser(name, { package: pkg.name, permissions: ["read", "upload", "publish"] }, actor));
	}
	for (const name of before.filter((n) => !wanted.includes(n))) {
		// Not every maintainer is a user with a grant of their own on the package (token publishers):
		// for those there is nothing to take back.
		await store.ungrantUser(name, { package: pkg.name }, actor);
	}
	const { rev: next } = unwrap(await stub.setMaintainers(people, actor));
	return json({ ok: true, id: pkg.name, rev: next });
}
