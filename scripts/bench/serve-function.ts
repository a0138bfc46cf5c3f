// One function alone in its own Deno process, as Supabase runs each function
// in its own isolate: the bench reads the verify-key function's own peak
// memory from it. FUNCTION names it; listens on 127.0.0.1:$PORT.
const name = Deno.env.get("FUNCTION") ?? "verify-key";
if (!/^[a-z0-9-]+$/.test(name)) throw new Error("FUNCTION must be a function folder name");
const mod = await import(new URL(`../../functions/${name}/index.ts`, import.meta.url).href);
const port = Number(Deno.env.get("PORT"));

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => console.log("listening") }, mod.default.fetch);
