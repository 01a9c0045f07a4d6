import type { Access } from "../schema/package/contract";

// Every Cache-Control the registry sends, by name, each with the reason for its lifetime.

export const cacheControl = {
	/** Bytes under never-reused keys (tarballs, files): they can never change. */
	immutable: (access: Access = "public") =>
		`${access === "public" ? "public" : "private"}, max-age=31536000, immutable`,
	/**
	 * Documents that change with every write (packuments, channels): revalidated on every use, so a
	 * publish or a rollback shows at the next install or page load, and an unchanged one costs a 304.
	 */
	revalidate: (access: Access) => (access === "public" ? "public, no-cache" : "private, no-cache"),
	/** Answers that depend on who asks (search, history, audit, downloads): never shared. */
	personal: "private, no-cache",
	/** The signing keys: they change only when an operator rotates them, and then old ones stay listed. */
	signingKeys: "public, max-age=300",
} as const;
