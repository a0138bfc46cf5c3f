// Types for scripts/deno-run.mjs.
export const denoPermissions: string[];
export function denoRunArgs(script: string): string[];
