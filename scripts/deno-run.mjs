// How this project runs Deno locally (npm start, the tests, the bench): the
// npm packages come from node_modules (installed by `npm ci`), the bare
// imports resolve through functions/deno.json as they do on Supabase, and the
// permissions are only what a function needs.
export const denoPermissions = ["--allow-net", "--allow-env", "--allow-read", "--allow-sys"];

/** Arguments for `deno run` of a script, relative to the project root. */
export function denoRunArgs(script) {
  return ["run", "--node-modules-dir=manual", ...denoPermissions, "--config", "functions/deno.json", script];
}
