import * as v from "valibot";

// Package hooks, in the shape of npm's hook API (libnpmhook): a hook sends a signed POST to its
// endpoint whenever something happens to a package it watches. Definitions live in the one
// HooksDO (durable-objects/hooks/hooks.ts); events are written to an outbox in the package object's
// own transaction and delivered from its alarm (durable-objects/package/hook-outbox.ts).

export const HOOK_TYPES = ["package", "scope", "owner"] as const;
export type HookType = (typeof HOOK_TYPES)[number];

export type HookEventName =
	| "package:publish"
	| "package:unpublish"
	| "package:dist-tag"
	| "package:dist-tag-rm"
	| "package:deprecate"
	| "package:undeprecate"
	| "package:channel";

/** A hook as its owner sees it (npm's fields; the secret is never shown again). */
export type HookView = {
	id: string;
	username: string;
	type: HookType;
	name: string;
	endpoint: string;
	created: string;
	updated: string;
	delivered: boolean;
	/** When the last delivery attempt ended, and the endpoint's status (null: no answer). */
	last_delivery: string | null;
	response_code: number | null;
	/** Attempts that failed since the last success. */
	failures: number;
	status: "active";
};

/** What a package object needs to deliver to a hook: read at delivery time, never stored there. */
export type HookTarget = { id: string; username: string; endpoint: string; secret: string };

/** The package an event is about, as hooks match it: by name, by scope, by maintainer. */
export type HookSubject = { name: string; scope: string | null; maintainers: string[] };

/** How one delivery attempt ended, reported back to the hook's row. */
export type DeliveryReport = { id: string; status: number | null; ok: boolean; at: string };

/** One event as the outbox keeps it: the body of the POST, without the hook's owner. */
export type HookEvent = {
	event: HookEventName;
	name: string;
	type: "package";
	version: string | null;
	payload: Record<string, unknown>;
	change: Record<string, unknown>;
	time: number;
};

/** POST /-/npm/v1/hooks/hook */
export const HookCreateSchema = v.object({
	type: v.picklist(HOOK_TYPES, "type must be package, scope or owner"),
	name: v.pipe(v.string("name must be a string"), v.minLength(1, "name must not be empty"), v.maxLength(214)),
	endpoint: v.pipe(v.string("endpoint must be a URL"), v.maxLength(2048, "endpoint is at most 2048 characters")),
	secret: v.pipe(v.string("secret must be a string"), v.minLength(1, "secret must not be empty"), v.maxLength(512)),
});

/** PUT /-/npm/v1/hooks/hook/{id} */
export const HookUpdateSchema = v.object({
	endpoint: v.pipe(v.string("endpoint must be a URL"), v.maxLength(2048, "endpoint is at most 2048 characters")),
	secret: v.pipe(v.string("secret must be a string"), v.minLength(1, "secret must not be empty"), v.maxLength(512)),
});

/** The hex HMAC-SHA256 of a body with a hook's secret: `x-npm-signature: sha256=<hex>`. */
export async function hookSignature(secret: string, body: string): Promise<string> {
	const key = await crypto.subtle.importKey(
		"raw",
		new TextEncoder().encode(secret),
		{ name: "HMAC", hash: "SHA-256" },
		false,
		["sign"],
	);
	const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
	return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}
