// Failed passwords and one-time codes, counted per user and per client address in fixed windows.
// Past the limit a subject is locked out until its window ends, for right and wrong answers alike,
// so guessing costs the guesser the window, whoever they guess for and wherever they guess from.

const WINDOW_MS = 10 * 60_000;
const LIMITS = { user: 10, ip: 30 } as const;

type Subject = { kind: "user" | "ip"; key: string };

export class CredentialFailures {
	constructor(private readonly sql: SqlStorage) {}

	/** Seconds until every subject may try again; 0 when none is locked. */
	lock(user: string | null, ip: string | null, now = Date.now()): number {
		let wait = 0;
		for (const subject of subjects(user, ip)) {
			const row = this.row(subject);
			if (row && now - row.window_start < WINDOW_MS && row.failures >= LIMITS[subject.kind]) {
				wait = Math.max(wait, Math.ceil((row.window_start + WINDOW_MS - now) / 1000));
			}
		}
		return wait;
	}

	/** Counts one failure for each subject; answers the lock that results. */
	fail(user: string | null, ip: string | null, now = Date.now()): number {
		for (const subject of subjects(user, ip)) {
			const row = this.row(subject);
			const fresh = !row || now - row.window_start >= WINDOW_MS;
			this.sql.exec(
				`INSERT INTO credential_failures (subject, window_start, failures) VALUES (?, ?, ?)
				 ON CONFLICT (subject) DO UPDATE SET window_start = excluded.window_start, failures = excluded.failures`,
				`${subject.kind}:${subject.key}`,
				fresh ? now : row.window_start,
				fresh ? 1 : row.failures + 1,
			);
		}
		// Windows that ended long ago are of no use to anyone.
		this.sql.exec(`DELETE FROM credential_failures WHERE window_start < ?`, now - 2 * WINDOW_MS);
		return this.lock(user, ip, now);
	}

	private row(subject: Subject): { window_start: number; failures: number } | null {
		return (
			this.sql
				.exec<{ window_start: number; failures: number }>(
					`SELECT window_start, failures FROM credential_failures WHERE subject = ?`,
					`${subject.kind}:${subject.key}`,
				)
				.toArray()[0] ?? null
		);
	}
}

function subjects(user: string | null, ip: string | null): Subject[] {
	return [
		...(user === null ? [] : [{ kind: "user" as const, key: user }]),
		...(ip === null ? [] : [{ kind: "ip" as const, key: ip }]),
	];
}
