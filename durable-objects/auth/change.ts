/**
 * What a change in the AuthStoreDO did: its answer, its audit row, and the tokens whose records it
 * changed (the store runs it in one transaction, writes the row, and pushes those tokens' records).
 */
export type Change<T> = {
	value: T;
	action: string;
	target: string | null;
	detail?: Record<string, unknown> | null;
	/** Ids of tokens whose records must be pushed again. */
	tokens?: string[];
	/** Hashes that no longer name a token (a rotated secret): their TokenDOs learn it is gone. */
	retiredHashes?: string[];
};
