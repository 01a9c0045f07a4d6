import type { Result } from "../../schema/errors";
import type { PackageName } from "../../schema/names";
import type { UpstreamTarball } from "../../schema/package/contract";
import { unwrap } from "../errors";
import type { RouteRequest } from "../http";
import { readBytes } from "../read-tier/bytes";
import { refused } from "../refusals";
import { keepAnswered } from "./first-fetch";

// The first request for a tarball of an upstream package, answered with what its object fetched
// from upstream in the call that found nothing stored (worker/npm/reads.ts getTarball): once,
// however many ask, and answers once its bytes are checked: a small one from the object's
// memory, the others once R2 has them; a mismatch is a 502 for every caller, and no client is ever
// handed bytes that were not checked (#22.13). Every later request finds them stored
// (worker/npm/reads.ts getTarball, whose route policy gives the answer its Cache-Control).

export async function serveUpstreamTarball(
	request: RouteRequest,
	env: Env,
	ctx: ExecutionContext,
	pkg: PackageName,
	version: string,
	fetched: Result<UpstreamTarball>,
): Promise<Response> {
	const answer = unwrap(fetched);
	const headers = (integrity: string) => ({
		"content-type": "application/octet-stream",
		etag: `"${integrity}"`,
		"x-registry-cache": "miss",
		"x-registry-upstream": "miss",
	});
	if ("stored" in answer) {
		const { key, size, integrity } = answer.stored;
		const body = await readBytes(env, ctx, key, size, { shared: true });
		if (!body) throw refused.hidden();
		keepAnswered(env, ctx, { name: pkg.name, version, size, integrity }, null);
		return new Response(body, { headers: { ...headers(integrity), "content-length": String(size) } });
	}
	const { bytes, integrity } = answer.verified;
	const length = { "content-length": String(bytes.byteLength) };
	keepAnswered(env, ctx, { name: pkg.name, version, size: bytes.byteLength, integrity }, bytes);
	return new Response(request.head ? null : bytes, { headers: { ...headers(integrity), ...length } });
}
