/** Shared arrangements for the API key suites. */
import type pg from "pg";
import { sha256 } from "../../functions/_shared/core/hash.ts";
import type { Db } from "../../functions/_shared/db/db.ts";
import { generateApiKey, keyStart } from "../../functions/_shared/keys/format.ts";

/** Inserts a key straight through SQL (as the api-keys function would) and returns it. */
export async function insertKey(
  admin: pg.Pool,
  userId: string,
  fields: { scopes?: string[]; expiresAt?: Date | null; name?: string } = {},
): Promise<{ id: string; key: string }> {
  const key = generateApiKey("kg");
  const { rows } = await admin.query("select id from keygate.create_api_key($1, $2, $3, $4, $5, $6)", [
    userId,
    fields.name ?? "test",
    keyStart(key),
    Buffer.from(sha256(key)),
    fields.scopes ?? ["jobs:read", "jobs:write"],
    fields.expiresAt ?? null,
  ]);
  return { id: rows[0].id, key };
}

/** The statements the key verifier runs, as `countingDb` records them. */
export const VERIFY_SQL = "select * from keygate.lookup_api_key($1)";
export const TOUCH_SQL = "select keygate.touch_api_key($1)";

/** A Db that counts the statements it runs, by their text. */
export function countingDb(db: Db): Db & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    query(text, values) {
      calls.push(text);
      return db.query(text, values);
    },
    end: () => db.end(),
  };
}

export async function until<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Call {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: any endpoint's JSON (or text); the tests read it as they expect it and assert on it.
  body: any;
}

/** fetch against `<base>/functions/v1/<path>`, with the body parsed when it is JSON. */
export async function call(base: string, path: string, init: RequestInit & { json?: unknown } = {}): Promise<Call> {
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
