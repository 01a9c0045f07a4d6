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
		unwrap(await stub.rollbackChannel(channelParam(request.params), to, actor));
		return seeOther(`${packagePath(pkg.name)}#channels`);
	}),
);

/** POST /package/{name}/promote to=channel&from=channel */
export const promoteFromPage = pageForm(
	packageWrite(channelWrite, async ({ request, stub, actor, pkg }) => {
		const form = formOf(request);
		const to = channelName(form.get("to") ?? "");
		const from = channelName(form.get("from") ?? "");
		unwrap(await stub.promoteChannel(to, from, actor));
		return seeOther(`${packagePath(pkg.name)}#channels`);
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
		} else {
			unwrap(await stub.changeRollout(channel, validate(ChangeRolloutSchema, { percent }).percent, actor));
		}
		return seeOther(`${packagePath(pkg.name)}#channel-${channel}`);
	}),
);

/** POST /package/{name}/channels/{channel}/rollout/complete */
export const completeRolloutFromPage = pageForm(
	packageWrite(channelWrite, async ({ request, stub, actor, pkg }) => {
		unwrap(await stub.completeRollout(channelParam(request.params), actor));
		return seeOther(`${packagePath(pkg.name)}#channels`);
	}),
);

/** POST /package/{name}/channels/{channel}/rollout/revert */
export const revertRolloutFromPage = pageForm(
	packageWrite(channelWrite, async ({ request, stub, actor, pkg }) => {
		unwrap(await stub.revertRollout(channelParam(request.params), actor));
		return seeOther(`${packagePath(pkg.name)}#channels`);
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

function formOf(request: RouteRequest): URLSearchParams {
	return (request as Partial<FormRequest>).form ?? new URLSearchParams();
}
