/** Shared arrangements for the jobs suites. */
import type pg from "pg";
import { createUser } from "../helpers/database.ts";
import { type Call, call, insertKey } from "../keys/helpers.ts";

export const ALL_JOB_SCOPES = ["jobs:read", "jobs:write", "jobs:work"];

export interface KeyHolder {
  userId: string;
  key: string;
  keyId: string;
}

/** A new user (role `member`, which may hold write scopes) with one key of `scopes`. */
export async function userWithKey(admin: pg.Pool, scopes: string[] = ALL_JOB_SCOPES): Promise<KeyHolder> {
  const user = await createUser(admin, { role: "member" });
  const key = await insertKey(admin, user.id, { scopes });
  return { userId: user.id, key: key.key, keyId: key.id };
}

/** Another key of the same user. */
export async function anotherKey(
  admin: pg.Pool,
  holder: KeyHolder,
  scopes: string[] = ALL_JOB_SCOPES,
): Promise<KeyHolder> {
  const key = await insertKey(admin, holder.userId, { scopes });
  return { userId: holder.userId, key: key.key, keyId: key.id };
}

/** A client for `<base>/functions/v1/jobs...` presenting `key` in x-api-key. */
export function jobsClient(base: string) {
  return (path: string, key: string | null, init: RequestInit & { json?: unknown } = {}): Promise<Call> =>
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
