/**
 * Work that runs after the response, such as the once-a-minute write of an
 * API key's `last_used_at`. On Supabase's edge runtime the task is handed to
 * `EdgeRuntime.waitUntil`, a global there, so an isolate retired right after
 * the response still finishes it; elsewhere (Deno, Node) it simply runs on.
 * Either way its failure is reported to `onError` (logged by the caller),
 * never thrown and never an unhandled rejection.
 */
export type WaitUntil = (task: Promise<unknown>) => void;

/** The runtime's `EdgeRuntime.waitUntil`, when there is one. */
export function runtimeWaitUntil(global: object = globalThis): WaitUntil | undefined {
  const runtime = (global as { EdgeRuntime?: { waitUntil?: unknown } }).EdgeRuntime;
  const waitUntil = runtime?.waitUntil;
  return typeof waitUntil === "function" ? (task) => waitUntil.call(runtime, task) : undefined;
}

export function runInBackground(
  task: Promise<unknown>,
  onError: (err: unknown) => void,
  waitUntil: WaitUntil | undefined = runtimeWaitUntil(),
): void {
  const settled = task.then(
    () => undefined,
    (err: unknown) => {
      try {
        onError(err);
      } catch {
        // A failing logger must not become an unhandled rejection.
      }
    },
  );
  try {
    waitUntil?.(settled);
  } catch {
    // A runtime that refuses the hand-over still runs the task: it is already under way.
  }
}
