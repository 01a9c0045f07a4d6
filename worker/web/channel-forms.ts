import { ChangeRolloutSchema, StartRolloutSchema } from "../../schema/requests/channels";
import { HttpError, unwrap } from "../errors";
import { packageWrite } from "../guards";
import { type RouteRequest, readBodyBytes, validate } from "../http";
import { channelName, channelParam, versionNumber } from "../params";
import { refused } from "../refusals";
import { declare, type Handler, policyOf, type RoutePolicy, withCache } from "../route-policy";
import { packagePath } from "./package-page";
import { anonymousViewer, assertSameOrigin, errorPage, seeOther, viewer } from "./page";

// The package page's channel forms: roll a channel back (one step, or to an earlier entry of its
// chain), promote one channel to another, and steer a staged rollout (start, widen or narrow,
// complete, revert; worker/packages/rollouts.ts). Each is the API's write (worker/packages/
// channel-moves.ts) behind the same guard, `packageWrite` with `publish`, on the same object
// methods, so the rules and the audit trail are the API's; only the caller comes from the page's
// session, the form must come from the registry's own pages (Origin), and the answer is a page.

type FormRequest = RouteRequest & { form: URLSearchParams };

const channelWrite = {
	auth: "session write" as const,
	need: ["publish" as const],
	mustExist: true as const,
	principal: async (request: RouteRequest, env: Env) => (await viewer(request, env)).principal,
	cache: "form" as const,
};

/** POST /package/{name}/channels/{channel}/rollback [to=historyId] */
export const rollbackFromPage = pageForm(
	packageWrite(channelWrite, async ({ request, stub, actor, pkg }) => {
		const raw = formOf(request).get("to");
		const to = raw === null || raw === "" ? undefined : Number(raw);
		if (to !== undefined && !Number.isSafeInteger(to)) throw refused.badHistoryEntry();
		const channel = channelParam(request.params);
		const view = unwrap(await stub.rollbackChannel(channel, to, actor));
		return seeOther(done(pkg.name, `${channel} rolled back to ${view.version}`, `channel-${channel}`));
	}),
);

/** POST /package/{name}/promote to=channel&from=channel */
export const promoteFromPage = pageForm(
	packageWrite(channelWrite, async ({ request, stub, actor, pkg }) => {
		const form = formOf(request);
		const to = channelName(form.get("to") ?? "");
		const from = channelName(form.get("from") ?? "");
		const view = unwrap(await stub.promoteChannel(to, from, actor));
		return seeOther(done(pkg.name, `${to} now points at ${view.version}, as ${from} does`, `channel-${to}`));
	}),
);

/** POST /package/{name}/channels/{channel}/rollout version=&percent= (start) or percent= (change) */
export const rolloutFromPage = pageForm(
	packageWrite(channelWrite, async ({ request, stub, actor, pkg }) => {
		const form = formOf(request);
		const channel = channelParam(request.params);
		const percent = Number(form.get("percent") || Number.NaN);
		const version = form.get("version");
		if (version) {
			const body = validate(StartRolloutSchema, { version, percent });
			const ref = "version" in body ? { version: versionNumber(body.version) } : { versionId: body.versionId };
			unwrap(await stub.startRollout(channel, ref, body.percent, actor));
			return seeOther(done(pkg.name, `${channel}: rollout started at ${body.percent}%`, `channel-${channel}`));
		}
		const changed = validate(ChangeRolloutSchema, { percent }).percent;
		unwrap(await stub.changeRollout(channel, changed, actor));
		return seeOther(done(pkg.name, `${channel}: rollout now at ${changed}%`, `channel-${channel}`));
	}),
);

/** POST /package/{name}/channels/{channel}/rollout/complete */
export const completeRolloutFromPage = pageForm(
	packageWrite(channelWrite, async ({ request, stub, actor, pkg }) => {
		const channel = channelParam(request.params);
		const view = unwrap(await stub.completeRollout(channel, actor));
		return seeOther(
			done(pkg.name, `${channel}: rollout completed, ${view.version} for everyone`, `channel-${channel}`),
		);
	}),
);

/** POST /package/{name}/channels/{channel}/rollout/revert */
export const revertRolloutFromPage = pageForm(
	packageWrite(channelWrite, async ({ request, stub, actor, pkg }) => {
		const channel = channelParam(request.params);
		const view = unwrap(await stub.revertRollout(channel, actor));
		return seeOther(done(pkg.name, `${channel}: rollout reverted, everyone on ${view.version}`, `channel-${channel}`));
	}),
);

/**
 * A form post from a page: the Origin checked first, the urlencoded body read (small), a
 * one-time code field handed on as npm's `npm-otp` header (the guard's second-factor check reads
 * it there), and every refusal answered as a page.
 */
export function pageForm(handler: Handler): Handler {
	const policy = policyOf(handler) as RoutePolicy;
	return declare(async (request, env, ctx) => {
		try {
			assertSameOrigin(request, env);
			const form = new URLSearchParams(new TextDecoder().decode(await readBodyBytes(request, 16 * 1024)));
			const headers = new Headers(request.headers);
			const otp = form.get("otp");
			if (otp) headers.set("npm-otp", otp);
			const prepared = Object.assign(new Request(request.url, { method: "POST", headers }), {
				params: request.params,
				query: request.query,
				parsed: request.parsed,
				form,
			}) as FormRequest;
			return await handler(prepared, env, ctx);
		} catch (error) {
			if (!(error instanceof HttpError)) throw error;
			const who = await viewer(request, env).catch(() => null);
			return withCache(policy.cache, errorPage(request, who ?? anonymousViewer(request, env), error));
		}
	}, policy);
}

/**
 * The package page again, saying what was done (#24.4): `?done=` is shown by the site's script as
 * a status line (as text, never markup); the page itself is cached without it.
 */
function done(name: string, what: string, anchor: string): string {
	return `${packagePath(name)}?done=${encodeURIComponent(what)}#${anchor}`;
}

function formOf(request: RouteRequest): URLSearchParams {
	return (request as Partial<FormRequest>).form ?? new URLSearchParams();
}
