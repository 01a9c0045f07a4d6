import type { Refusal, Result } from "../schema/errors";

/**
 * Runs a write as one SQLite transaction of a Durable Object. A refusal returned by the write
 * rolls back everything it did before refusing, so a refused request never leaves a partial write.
 */
export function transact<T>(storage: DurableObjectStorage, write: () => Result<T>): Result<T> {
	try {
		return storage.transactionSync(() => {
			const result = write();
			if (!result.ok) throw new Rollback(result);
			return result;
		});
	} catch (error) {
		if (error instanceof Rollback) return error.refusal;
		throw error;
	}
}

class Rollback extends Error {
	constructor(readonly refusal: Refusal) {
		super(refusal.message);
	}
}
