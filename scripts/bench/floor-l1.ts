// Benchmark floor L1: what any key check must do at least. SHA-256 of the
// x-api-key header and one indexed select by hash through the same driver
// (node-postgres, a pool as large as the functions'), answered as JSON.
// The select is sent unnamed, as Keygate sends every statement, so the floor
// also runs through a transaction-mode pooler; L1_NAMED=1 names it (a prepared
// statement per connection) to measure what naming would save on a direct
// connection. Run by scripts/bench.mjs; listens on 127.0.0.1:$PORT.
import pg from "pg";

const port = Number(Deno.env.get("PORT"));
const pool = new pg.Pool({
  connectionString: Deno.env.get("DATABASE_URL"),
  max: Number(Deno.env.get("DB_POOL_MAX") ?? "4"),
});
const named = Deno.env.get("L1_NAMED") === "1";
const encoder = new TextEncoder();
const text = "select user_id, scopes from public.api_keys where key_hash = $1";

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => console.log("listening") }, async (req) => {
  const key = req.headers.get("x-api-key") ?? "";
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(key)));
  const { rows } = await pool.query(named ? { name: "floor_l1", text, values: [hash] } : { text, values: [hash] });
  return Response.json(rows[0] ? { valid: true, user_id: rows[0].user_id, scopes: rows[0].scopes } : { valid: false }, {
    status: rows[0] ? 200 : 401,
  });
});
