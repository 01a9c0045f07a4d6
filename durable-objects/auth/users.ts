import * as OTPAuth from "otpauth";
import type { NewUser, TotpOutcome } from "../../schema/auth/contract";
import type { UserRow } from "../../schema/auth/rows";

// The users of `npm login`: salted PBKDF2 hashes (made by the Worker; no password reaches the
// store) and an optional TOTP second factor whose accepted steps are remembered, so a code works once.

const TOTP = { issuer: "registry", algorithm: "SHA1", digits: 6, period: 30 } as const;

export class Users {
	constructor(private readonly sql: SqlStorage) {}

	get(name: string): UserRow | null {
		return this.sql.exec<UserRow>(`SELECT * FROM users WHERE name = ?`, name).toArray()[0] ?? null;
	}

	all(): UserRow[] {
		return this.sql.exec<UserRow>(`SELECT * FROM users ORDER BY name`).toArray();
	}

	insert(input: NewUser, now: string): void {
		this.sql.exec(
			`INSERT INTO users (name, email, password_hash, password_salt, password_iterations, created_at)
			 VALUES (?, ?, ?, ?, ?, ?)`,
			input.name,
			input.email ?? null,
			input.passwordHash,
			input.salt,
			input.iterations,
			now,
		);
	}

	/** Stores a user's TOTP seed, sealed (see sealing.ts), or turns TOTP off (null). */
	storeTotp(name: string, sealedSeed: string | null): void {
		this.sql.exec(`UPDATE users SET totp_secret = ?, totp_last_step = NULL WHERE name = ?`, sealedSeed, name);
	}

	reseal(name: string, sealedSeed: string): void {
		this.sql.exec(`UPDATE users SET totp_secret = ? WHERE name = ?`, sealedSeed, name);
	}

	/**
	 * Checks a TOTP code against the user's seed (one step of clock drift either way). A code is
	 * accepted once: the step it belongs to must be later than the last step accepted.
	 */
	checkTotp(row: UserRow, seed: string, code: string): TotpOutcome {
		const totp = new OTPAuth.TOTP({ ...TOTP, label: row.name, secret: seed });
		const delta = /^\d{6}$/.test(code) ? totp.validate({ token: code, window: 1 }) : null;
		if (delta === null) return "invalid";
		const step = Math.floor(Date.now() / 1000 / TOTP.period) + delta;
		if (row.totp_last_step !== null && step <= row.totp_last_step) return "replayed";
		this.sql.exec(`UPDATE users SET totp_last_step = ? WHERE name = ?`, step, row.name);
		return "valid";
	}
}

/** A fresh TOTP seed, and the otpauth:// URI that shows it to the user (once). */
export function newTotpSeed(name: string): { seed: string; otpauth: string } {
	const seed = new OTPAuth.Secret({ size: 20 }).base32;
	return { seed, otpauth: new OTPAuth.TOTP({ ...TOTP, label: name, secret: seed }).toString() };
}
