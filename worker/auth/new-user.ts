import type { Actor } from "../../schema/audit";
import type { UserView } from "../../schema/auth/contract";
import { randomHex } from "../../schema/hashing";
import { CreateUserSchema } from "../../schema/requests/admin";
import { unwrap } from "../errors";
import { validate } from "../http";
import { authStore } from "./auth-store";
import { hashPassword, PBKDF2_ITERATIONS } from "./secrets";

// The one way an account is made, whether an admin makes it (POST /-/admin/users) or a person signs
// up with `npm adduser` (ALLOW_SIGNUP): the same rules for the name, the password (8 to 1024
// characters) and the email, and the password hashed here (PBKDF2) before it reaches the store.

/** `input` is what the caller sent, validated here: { name, password, email?, grants? }. */
export async function createAccount(env: Env, input: unknown, actor: Actor): Promise<UserView> {
	const account = validate(CreateUserSchema, input);
	const salt = randomHex(16);
	const { user } = unwrap(
		await authStore(env).createUser(
			{
				name: account.name,
				...(account.email === undefined ? {} : { email: account.email }),
				passwordHash: await hashPassword(account.password, salt, PBKDF2_ITERATIONS),
				salt,
				iterations: PBKDF2_ITERATIONS,
				grants: account.grants,
			},
			actor,
		),
	);
	return user;
}
