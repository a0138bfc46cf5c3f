/** Arrangements of the jobs suites only: a client presenting a key, and a job's stored status. */
import type pg from "pg";
import { type Call, type CallInit, call } from "../helpers/call.ts";

/** A client for `<base>/functions/v1/jobs...` presenting `key` in x-api-key. */
export function jobsClient(base: string) {
  return (path: string, key: string | null, init: CallInit = {}): Promise<Call> =>
    call(base, path, {
      ...init,
      headers: { ...(key ? { "x-api-key": key } : {}), ...(init.headers as Record<string, string> | undefined) },
    });
}

export const post = (json: unknown = {}, headers: Record<string, string> = {}) => ({ method: "POST", json, headers });

export async function statusOf(admin: pg.Pool, id: string): Promise<string> {
  const { rows } = await admin.query("select status from public.jobs where id = $1", [id]);
  return rows[0]?.status;
}
