import { CreateUserSchema } from "../../schema/admin";
import { assertAdmin, authenticate } from "../auth";
import { unwrap } from "../errors";
import { json, type RouteRequest, readJson } from "../http";
import { hashPassword, PBKDF2_ITERATIONS, randomHex } from "../lib/crypto";
import { authStore } from "../objects";

// /-/admin/users: accounts for `npm login`. Passwords are hashed here (PBKDF2) before they reach
// the store; the store never sees one.

/** POST /-/admin/users */
export async function createUser(request: RouteRequest, env: Env): Promise<Response> {
	assertAdmin(await authenticate(request, env));
	const body = await readJson(request, CreateUserSchema);
	const salt = randomHex(16);
	const user = unwrap(
		await authStore(env).createUser({
			name: body.name,
			...(body.email === undefined ? {} : { email: body.email }),
			passwordHash: await hashPassword(body.password, salt, PBKDF2_ITERATIONS),
			salt,
			iterations: PBKDF2_ITERATIONS,
			grants: body.grants,
		}),
	);
	return json({ name: user.name, email: user.email, grants: user.grants }, { status: 201 });
}
