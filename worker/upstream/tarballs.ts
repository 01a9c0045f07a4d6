import { integrityCheck } from "../../durable-objects/package/upstream-integrity";
import type { PackageName } from "../../schema/names";
import { expectedDigest } from "../../schema/upstream";
import { unwrap } from "../errors";
import type { RouteRequest } from "../http";
import { packageStub } from "../objects";
import { readBytes } from "../read-tier/bytes";
import { refused } from "../refusals";
import { keepAnswered, keptOnceStored } from "./first-fetch";

// The first request for a tarball of an upstream package. Its object fetches it from upstream
// once, however many ask, and answers once its bytes are checked (a small one from the object's
// memory, the others once R2 has them; a mismatch is a 502); only the
// request that started the fetch of one larger than VERIFIED_FIRST_BYTES gets the bytes as they
// stream (and a download cut short if they turn out not to match their integrity). Every later
// request finds them stored (worker/npm/reads.ts getTarball, whose route policy gives the answer
// its Cache-Control).

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
		keepAnswered(env, ctx, { name: pkg.name, version, size, integrity }, null);
		return new Response(body, { headers: { ...headers(integrity), "content-length": String(size) } });
	}
	if ("verified" in answer) {
		const { bytes, integrity } = answer.verified;
		const length = { "content-length": String(bytes.byteLength) };
		keepAnswered(env, ctx, { name: pkg.name, version, size: bytes.byteLength, integrity }, bytes);
		return new Response(request.head ? null : bytes, { headers: { ...headers(integrity), ...length } });
	}
	const { body, size, integrity } = answer.streaming;
	// Nobody reads a HEAD's body: let the object's copy to R2 go on without it.
	if (request.head) {
		await body.cancel();
		return new Response(null, { headers: headers(integrity) });
	}
	// The object's copy ends early where the bytes fail (an erroring stream over RPC is logged as
	// uncaught): checked here too, a body cut short fails instead of looking whole, and the failure
	// is this Worker's own, observed below (#22.13).
	const expected = expectedDigest({ integrity });
	if (!expected) throw new Error(`the object answered an unusable integrity for ${pkg.name}@${version}`);
	const check = integrityCheck(expected);
	ctx.waitUntil(body.pipeTo(check.stream.writable).catch(() => {}));
	if (size === null) return new Response(check.stream.readable, { headers: headers(integrity) });
	// With its length known the response says it, so a body that fails at the end arrives short
	// (aborted, never closed short: a FixedLengthStream closed short throws where nobody sees it).
	const sized = new FixedLengthStream(size);
	const kept = keptOnceStored(env, ctx, { name: pkg.name, version, size, integrity });
	ctx.waitUntil(
		check.stream.readable
			.pipeThrough(kept)
			.pipeTo(sized.writable)
			.catch(() => {}),
	);
	return new Response(sized.readable, { headers: headers(integrity) });
}
