// @ts-check
// How this project runs Deno locally (npm start, the tests, the bench): the
// npm packages come from node_modules (installed by `npm ci`), the bare
// imports resolve through functions/deno.json as they do on Supabase, and the
// permissions are only what a function needs.
export const denoPermissions = ["--allow-net", "--allow-env", "--allow-read", "--allow-sys"];

// V8's young generation is capped at 1 MiB per semi-space (the default lets
// it grow to 8 MiB under load). Request garbage dies young here (under 0.01%
// survives a scavenge), so the larger space bought no throughput on the key
// hot path but cost about 6 MiB of resident memory per process (measured
// with `npm run bench`; docs/benchmark.md). Every local Deno process gets
// it, the benchmark floors included. Hosted Supabase runs its own settings.
export const denoV8Flags = ["--v8-flags=--max-semi-space-size=1"];

/**
 * Arguments for `deno run` of a script, relative to the project root.
 * @param {string} script
 * @returns {string[]}
 */
export function denoRunArgs(script) {
  return [
    "run",
    "--node-modules-dir=manual",
    ...denoV8Flags,
    ...denoPermissions,
    "--config",
    "functions/deno.json",
    script,
  ];
}
