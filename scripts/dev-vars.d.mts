// Types of dev-vars.mjs, for the TypeScript that imports it (the e2e harness, vitest.config.ts).
export const SECRETS: string[];
export const devVarsPath: string;
export const devVarsMoved: boolean;
export function newSecret(name: string): string;
export function ensureSecrets(names?: string[]): void;
