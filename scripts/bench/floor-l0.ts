// Benchmark floor L0: the cheapest Deno HTTP answer, a constant JSON body.
// Run by scripts/bench.mjs; listens on 127.0.0.1:$PORT.
const body = JSON.stringify({
  valid: false,
  error: { code: "invalid_api_key", message: "A valid API key is required." },
});
const port = Number(Deno.env.get("PORT"));

Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => console.log("listening") },
  () => new Response(body, { status: 200, headers: { "content-type": "application/json; charset=utf-8" } }),
);
