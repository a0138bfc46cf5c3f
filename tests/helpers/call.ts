/** HTTP calls to the functions of a running server, and polling until something holds. */

export interface Call {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: any endpoint's JSON (or text); the tests read it as they expect it and assert on it.
  body: any;
}

/** A fetch init whose `json`, when given, becomes the body with `content-type: application/json`. */
export type CallInit = RequestInit & { json?: unknown };

/** fetch against `<base>/functions/v1/<path>`, with the body parsed when it is JSON. */
export async function call(base: string, path: string, init: CallInit = {}): Promise<Call> {
  const headers = new Headers(init.headers);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  const res = await fetch(`${base}/functions/v1/${path}`, { ...init, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Runs `probe` every 50 ms until `done` holds or `timeoutMs` has passed; the last value. */
export async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}
