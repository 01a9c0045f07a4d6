import { packageNameFromParams } from "../params";
import { refused } from "../refusals";
import { approve, reject, stagedVersionRoute } from "../stage/routes";
import { pageForm } from "./channel-forms";
import { packagePath } from "./package-page";
import { seeOther, viewer } from "./page";

// The package page's staged versions (npm stage), for its publishers: approve (publish it) or
// reject (drop it and its bytes), with a one-time code where two factors are needed. The same
// guard and the same object methods as POST /-/stage/{id}/approve and DELETE /-/stage/{id}; the
// caller comes from the page's session and the form from the registry's own pages.

const fromPage = {
	auth: "session write: publish" as const,
	cache: "form" as const,
	secondFactor: true,
	principal: async (request: Request, env: Env) => (await viewer(request, env)).principal,
};

/** POST /package/{name}/stage/{id}/approve */
export const approveFromPage = pageForm(
	stagedVersionRoute(fromPage, async (context) => {
		if (packageNameFromParams(context.request.params).name !== context.pkg.name)
			throw refused.stagedNotFound(context.id);
		await approve(context);
		return seeOther(`${packagePath(context.pkg.name)}#staged`);
	}),
);

/** POST /package/{name}/stage/{id}/reject */
export const rejectFromPage = pageForm(
	stagedVersionRoute(fromPage, async (context) => {
		if (packageNameFromParams(context.request.params).name !== context.pkg.name)
			throw refused.stagedNotFound(context.id);
		await reject(context);
		return seeOther(`${packagePath(context.pkg.name)}#staged`);
	}),
);
