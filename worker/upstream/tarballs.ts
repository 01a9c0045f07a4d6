import type { PackageName } from "../../schema/names";
import { unwrap } from "../errors";
import type { RouteRequest } from "../http";
import { packageStub } from "../objects";
import { readBytes } from "../read-tier/bytes";
import { refused } from "../refusals";

// The first request for a tarball of an upstream package. Its object fetches it from upstream
// once, however many ask; the request that started the fetch gets the bytes as they stream (and
// a download cut short if they turn out not to match their integrity), the others wait until R2
// has them. Every later request finds them stored (worker/npm/reads.ts getTarball, whose route
// policy gives the answer its Cache-Control).

export async function serveUpstreamTarball(
	request: RouteRequest,
	env: Env,
	ctx: ExecutionContext,
	pkg: PackageName,
	version: string,
): Promise<Response> {
	const answer = unwrap(await packageStub(env, pkg.name).upstreamTarball(pkg.name, version));
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
		return new Response(body, { headers: { ...headers(integrity), "content-length": String(size) } });
	}
	const { body, size, integrity } = answer.streaming;
	// Nobody reads a HEAD's body: let the object's copy to R2 go on without it.
	if (request.head) {
		await body.cancel();
		return new Response(null, { headers: headers(integrity) });
	}
	if (size === null) return new Response(body, { headers: headers(integrity) });
	// With its length known the response says it, so a body that fails at the end arrives short.
	const sized = new FixedLengthStream(size);
	// A failure shows where it matters: in the response, cut short (the object logs why).
	ctx.waitUntil(body.pipeTo(sized.writable).catch(() => {}));
	return new Response(sized.readable, { headers: headers(integrity) });
}
