/** API keys for tests, inserted through the same SQL function the api-keys function calls. */
import type pg from "pg";
import { sha256 } from "../../functions/_shared/core/hash.ts";
import { generateApiKey, keyStart } from "../../functions/_shared/keys/format.ts";
import { createUser } from "./database.ts";

/** Every scope of the jobs routes. */
export const ALL_JOB_SCOPES = ["jobs:read", "jobs:write", "jobs:work"];

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
