import { createServer, type Server } from "node:http";
import { freePort } from "./harness";

// The front door of an upstream registry in the end-to-end tests: a loopback HTTP server that
// forwards every request to the registry behind it and records what was asked, so a test can say
// what the registry in front asked upstream (and what it never asked). It can also alter the
// bytes of one path on their way, as a broken mirror or a man in the middle would. Closing it is
// the upstream going away: connections to its port are refused.

export type Recorded = { method: string; path: string };

export class RecordingFront {
	readonly log: Recorded[] = [];
	private readonly tampered = new Set<string>();
	private server: Server | null = null;
	private target = "";

	private constructor(readonly port: number) {}

	/** A port for the front, known before the registry behind it starts (its PUBLIC_URL names it). */
	static async reserve(): Promise<RecordingFront> {
		return new RecordingFront(await freePort());
	}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	/** Starts forwarding to `target` (the registry's own URL). */
	async listen(target: string): Promise<void> {
		this.target = target;
		const server = createServer(async (request, response) => {
			const path = decodeURIComponent((request.url ?? "/").split("?")[0] ?? "/");
			this.log.push({ method: request.method ?? "GET", path });
			try {
				const chunks: Buffer[] = [];
				for await (const chunk of request) chunks.push(chunk as Buffer);
				const headers = new Headers();
				for (const [name, value] of Object.entries(request.headers)) {
					if (typeof value === "string" && !["host", "connection", "content-length"].includes(name)) {
						headers.set(name, value);
					}
				}
				const answer = await fetch(`${this.target}${request.url ?? "/"}`, {
					method: request.method,
					headers,
					...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
					redirect: "manual",
				});
				const bytes = new Uint8Array(await answer.arrayBuffer());
				const middle = bytes.length >> 1;
				if (this.tampered.has(path) && answer.status === 200) bytes[middle] = (bytes[middle] ?? 0) ^ 0xff;
				const out: Record<string, string> = {};
				answer.headers.forEach((value, name) => {
					// fetch has already undone any content-encoding, and the length is set anew.
					if (!["content-encoding", "content-length", "transfer-encoding", "connection"].includes(name))
						out[name] = value;
				});
				response.writeHead(answer.status, { ...out, "content-length": String(bytes.byteLength) });
				response.end(bytes);
			} catch (error) {
				response.writeHead(502, { "content-type": "text/plain" });
				response.end(`front could not reach the registry: ${String(error)}`);
			}
		});
		await new Promise<void>((resolve, reject) => {
			server.once("error", reject);
			server.listen(this.port, "127.0.0.1", resolve);
		});
		this.server = server;
	}

	/** The GETs of one package: its packument, version documents and tarballs. */
	requestsFor(name: string): Recorded[] {
		return this.log.filter((r) => r.method === "GET" && (r.path === `/${name}` || r.path.startsWith(`/${name}/`)));
	}

	tamper(path: string): void {
		this.tampered.add(path);
	}

	untamper(path: string): void {
		this.tampered.delete(path);
	}

	async close(): Promise<void> {
		const server = this.server;
		this.server = null;
		if (!server) return;
		server.closeAllConnections();
		await new Promise<void>((resolve) => server.close(() => resolve()));
	}
}
