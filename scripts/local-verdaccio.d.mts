// Types of local-verdaccio.mjs, for the TypeScript that imports it (tests/e2e/migrate.test.ts).
export type LocalVerdaccio = {
	url: string;
	storage: string;
	token: string;
	stop(): Promise<void>;
	log(): string;
	pid: number | undefined;
};
export function startVerdaccio(options: {
	dir: string;
	port: number;
	env?: NodeJS.ProcessEnv;
	uplink?: string | null;
	logLevel?: "warn" | "http";
}): Promise<LocalVerdaccio>;
