// The local stand-in for Cloudflare's edge in front of `npm start`: an HTTP server that forwards
// every request to the Worker's own socket over a pool of kept-alive connections (undici, the
// client wrangler itself uses), setting CF-Connecting-IP from the TCP connection. A client's own
// CF-Connecting-IP, and the header through which workerd would take a client's `request.cf`, are
// dropped, as the edge drops them: the address is the connection's, never what a client claims.

import { createServer } from "node:http";
import { createRequire } from "node:module";

const wranglerRequire = createRequire(createRequire(import.meta.url).resolve("wrangler"));
const { Pool } = createRequire(wranglerRequire.resolve("miniflare"))("undici");

/** Headers a client may not set: the edge's own, and hop-by-hop ones that belong to one connection. */
const DROPPED = new Set([
	"cf-connecting-ip",
	"mf-cf-blob",
	"connection",
	"keep-alive",
	"proxy-connection",
	"transfer-encoding",
	"upgrade",
]);

/** `::ffff:127.0.0.1` → `127.0.0.1`: IPv4 clients of a dual-stack socket, as the edge reports them. */
function clientAddress(socket) {
	const address = socket.remoteAddress ?? "";
	return address.startsWith("::ffff:") ? address.slice(7) : address;
}

export async function serveLocalEdge({ host, port, worker }) {
	const pool = new Pool(worker.origin, { connections: 64 });
	const server = createServer(async (request, response) => {
		const headers = {};
		for (const [name, value] of Object.entries(request.headers)) {
			if (!DROPPED.has(name)) headers[name] = value;
		}
		headers["cf-connecting-ip"] = clientAddress(request.socket);
		const bodiless = request.method === "GET" || request.method === "HEAD";
		try {
			const answer = await pool.request({
				path: request.url,
				method: request.method,
				headers,
				body: bodiless ? null : request,
			});
			response.writeHead(answer.statusCode, answer.headers);
			// A plain loop: measurably cheaper per request than stream.pipeline for small bodies.
			for await (const chunk of answer.body) {
				if (!response.write(chunk)) await new Promise((resolve) => response.once("drain", resolve));
			}
			response.end();
		} catch (error) {
			if (response.headersSent) {
				response.destroy(error);
				return;
			}
			response.writeHead(502, { "content-type": "application/json" });
			response.end(JSON.stringify({ error: "the registry worker did not answer", code: "unavailable" }));
		}
	});
	server.keepAliveTimeout = 65_000;
	await new Promise((resolve, reject) => {
		server.once("error", reject);
		server.listen(port, host, resolve);
	});
	const { port: bound } = server.address();
	return {
		url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}`,
		close: async () => {
			server.closeAllConnections();
			await new Promise((resolve) => server.close(resolve));
			await pool.close();
		},
	};
}
