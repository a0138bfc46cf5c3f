/**
 * A backend job that uses a Keygate API key with supabase-js. The same code
 * works against `npm start` (http://127.0.0.1:54321) and a hosted project
 * (https://<ref>.supabase.co): both serve functions at /functions/v1.
 *
 *   KEYGATE_URL=http://127.0.0.1:54321 SUPABASE_ANON_KEY=<anon key or any text locally> \
 *   KEYGATE_API_KEY=kg_... npx deno run --node-modules-dir=manual --allow-env --allow-net --allow-read examples/backend-job.ts
 *
 * The key goes in `x-api-key`: supabase-js sends the project's anon key as
 * `Authorization: Bearer`, and Keygate reads `x-api-key` first. Keep the key
 * in the job's secret store, never in a browser.
 */
import { createClient } from "@supabase/supabase-js";

export interface JobRun {
  queued: { id: string; status: string; created_at: string };
  job: { id: string; type: string; status: string; payload: Record<string, unknown> };
  recent: { jobs: { id: string }[] };
}

/**
 * supabase-js builds a realtime client eagerly and wants a WebSocket for it;
 * Node 20 has none built in. This job never opens one, so on such runtimes it
 * gets a stand-in that refuses to be used (Node 22+, Deno and Bun need none).
 */
class NoRealtime {
  constructor() {
    throw new Error("this job does not use Supabase Realtime");
  }
}
const realtime =
  "WebSocket" in globalThis ? {} : { realtime: { transport: NoRealtime as unknown as typeof WebSocket } };

export async function runBackendJob(options: {
  url: string;
  anonKey: string;
  apiKey: string;
  type: string;
  payload?: Record<string, unknown>;
}): Promise<JobRun> {
  const supabase = createClient(options.url, options.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    ...realtime,
  });
  const headers = { "x-api-key": options.apiKey };

  const queued = await supabase.functions.invoke("jobs", {
    headers,
    body: { type: options.type, payload: options.payload ?? {} },
  });
  if (queued.error) throw queued.error;

  const job = await supabase.functions.invoke(`jobs/${queued.data.id}`, { method: "GET", headers });
  if (job.error) throw job.error;

  const recent = await supabase.functions.invoke("jobs?limit=10", { method: "GET", headers });
  if (recent.error) throw recent.error;

  return { queued: queued.data, job: job.data, recent: recent.data };
}

// Run directly (Deno): submit one job and print what came back.
if ((import.meta as { main?: boolean }).main) {
  const env = (name: string) =>
    (globalThis as { Deno?: { env: { get(n: string): string | undefined } } }).Deno?.env.get(name);
  const result = await runBackendJob({
    url: env("KEYGATE_URL") ?? "http://127.0.0.1:54321",
    anonKey: env("SUPABASE_ANON_KEY") ?? "anon-key-placeholder",
    apiKey: env("KEYGATE_API_KEY") ?? "",
    type: "report.generate",
    payload: { month: "2026-11" },
  });
  console.log(JSON.stringify(result, null, 2));
}
