/**
 * A complete Keygate job worker: claims jobs with a `jobs:work` key, keeps
 * each job's lease alive with heartbeats while it runs, completes it with a
 * result or fails it (Keygate retries it with backoff while attempts are
 * left), and on SIGINT or SIGTERM stops claiming, finishes the job in hand and
 * exits. A job whose heartbeat is refused (canceled, or its lease was lost)
 * is abandoned: its handler's signal aborts.
 *
 *   KEYGATE_URL=http://127.0.0.1:54321 KEYGATE_API_KEY=kg_... \
 *   npx deno run --allow-env --allow-net examples/worker.ts
 *
 * Optional: KEYGATE_JOB_TYPES=report.generate,email.send (default: every
 * type), KEYGATE_LEASE_SECONDS (default 30). Plain `fetch`, no dependencies:
 * it runs the same on Deno, Node 20+ (transpiled) and Bun. Keep the key in the
 * worker's secret store, never in a browser.
 */
import process from "node:process";

export interface ClaimedJob {
  id: string;
  type: string;
  payload: Record<string, unknown>;
  attempts: number;
  max_attempts: number;
}

export interface JobContext {
  /** Records progress (any small JSON value) with the next heartbeat, sent at once. */
  progress(value: unknown): Promise<void>;
  /** Aborts when the job was canceled or its lease was lost: stop working on it. */
  signal: AbortSignal;
}

export type JobHandler = (job: ClaimedJob, ctx: JobContext) => Promise<unknown>;

export interface WorkerOptions {
  url: string;
  apiKey: string;
  handle: JobHandler;
  types?: string[];
  leaseSeconds?: number;
  /** Wait between empty claims. */
  idleMs?: number;
  /** Abort to stop: no new claims; the job in hand is finished first. */
  stop: AbortSignal;
  log?: (line: string) => void;
  fetchImpl?: typeof fetch;
}

class KeygateHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** Runs until `stop` aborts; resolves with how many jobs it finished (completed or failed). */
export async function runWorker(options: WorkerOptions): Promise<{ finished: number }> {
  const { url, apiKey, handle, stop } = options;
  const leaseSeconds = options.leaseSeconds ?? 30;
  const idleMs = options.idleMs ?? 1000;
  const log = options.log ?? ((line: string) => console.log(line));
  const fetchImpl = options.fetchImpl ?? fetch;

  /** POSTs to `jobs<path>`; the reply's JSON, whose shape the caller names, or a KeygateHttpError. */
  async function call<T>(path: string, body: unknown): Promise<T> {
    const res = await fetchImpl(`${url}/functions/v1/jobs${path}`, {
      method: "POST",
      headers: { "x-api-key": apiKey, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const data: unknown = await res.json().catch(() => null);
    if (!res.ok) {
      const error = (data as { error?: { code?: string; message?: string } } | null)?.error;
      throw new KeygateHttpError(res.status, error?.code ?? "http_error", error?.message ?? res.statusText);
    }
    return data as T;
  }

  async function work(job: ClaimedJob): Promise<void> {
    const lost = new AbortController();
    let progress: unknown;
    const beat = async () => {
      try {
        await call(`/${job.id}/heartbeat`, { attempt: job.attempts, lease_seconds: leaseSeconds, progress });
      } catch (err) {
        if (err instanceof KeygateHttpError && err.status === 409) {
          log(`job ${job.id}: ${err.code}, abandoning it`);
          lost.abort();
        } // Anything else (network, 503): the next beat tries again; the lease covers a few misses.
      }
    };
    const timer = setInterval(beat, Math.max(1, leaseSeconds / 3) * 1000);
    let outcome: { result: unknown } | { error: string };
    try {
      outcome = {
        result: await handle(job, {
          async progress(value) {
            progress = value;
            await beat();
          },
          signal: lost.signal,
        }),
      };
    } catch (err) {
      outcome = { error: err instanceof Error ? err.message : String(err) };
    } finally {
      clearInterval(timer);
    }
    if (lost.signal.aborted) return;
    try {
      if ("result" in outcome) {
        await call(`/${job.id}/complete`, { attempt: job.attempts, result: outcome.result ?? null });
        log(`job ${job.id} (${job.type}) succeeded`);
      } else {
        const failed = await call<{ status: string }>(`/${job.id}/fail`, {
          attempt: job.attempts,
          error: outcome.error.slice(0, 1000) || "failed",
        });
        log(`job ${job.id} (${job.type}) failed: ${outcome.error} -> ${failed.status}`);
      }
    } catch (err) {
      // Refused (canceled, lease lost) or unreachable: the lease's end hands the job to another worker.
      log(`job ${job.id}: could not report: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  let finished = 0;
  let backoffMs = idleMs;
  while (!stop.aborted) {
    let jobs: ClaimedJob[];
    try {
      ({ jobs } = await call<{ jobs: ClaimedJob[] }>("/claim", {
        limit: 1,
        lease_seconds: leaseSeconds,
        ...(options.types ? { types: options.types } : {}),
      }));
      backoffMs = idleMs;
    } catch (err) {
      // 429, 503 or the network: back off, up to 30 s, and try again.
      log(`claim failed: ${err instanceof Error ? err.message : String(err)}`);
      await sleep(backoffMs, stop);
      backoffMs = Math.min(backoffMs * 2, 30_000);
      continue;
    }
    if (jobs.length === 0) {
      await sleep(idleMs, stop);
      continue;
    }
    for (const job of jobs) {
      await work(job);
      finished += 1;
    }
  }
  return { finished };
}

/** The demo handler: `{steps?, step_ms?, fail?}` -> counts `steps` with progress, or throws `fail`. */
export const demoHandler: JobHandler = async (job, { progress, signal }) => {
  if (typeof job.payload.fail === "string") throw new Error(job.payload.fail);
  const steps = Number(job.payload.steps ?? 3);
  const stepMs = Number(job.payload.step_ms ?? 100);
  for (let done = 1; done <= steps && !signal.aborted; done++) {
    await sleep(stepMs, signal);
    await progress({ done, total: steps });
  }
  return { steps, type: job.type };
};

// Run directly: work until SIGINT or SIGTERM.
if ((import.meta as { main?: boolean }).main) {
  const apiKey = process.env.KEYGATE_API_KEY;
  if (!apiKey) {
    console.error("Set KEYGATE_API_KEY to a key with the jobs:work scope.");
    process.exit(2);
  }
  const stop = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (!stop.signal.aborted) console.log(`${signal}: finishing the job in hand, then stopping`);
      stop.abort();
    });
  }
  const types = process.env.KEYGATE_JOB_TYPES?.split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  console.log("worker started");
  const { finished } = await runWorker({
    url: process.env.KEYGATE_URL ?? "http://127.0.0.1:54321",
    apiKey,
    handle: demoHandler,
    types: types && types.length > 0 ? types : undefined,
    leaseSeconds: Number(process.env.KEYGATE_LEASE_SECONDS ?? 30),
    stop: stop.signal,
  });
  console.log(`worker stopped after ${finished} jobs`);
  process.exit(0);
}
