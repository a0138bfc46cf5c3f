/**
 * The API key functions (create, list, revoke, rotate, lookup and verify,
 * touch), called the way the server calls them, against real Postgres.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { createDb } from "../../functions/_shared/db/db.ts";
import type { ApiKeyInfoRow, VerifyRow } from "../../functions/_shared/db/rows.ts";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

const newHash = () => randomBytes(32);

async function createKey(
  userId: string,
  {
    hash = newHash(),
    scopes = ["jobs:read"],
    expiresAt = null as Date | null,
    maxActive = 25,
    maxPerMinute = null as number | null,
  } = {},
) {
  const [info] = await database.db.query<ApiKeyInfoRow>(
    "select * from keygate.create_api_key($1, $2, $3, $4, $5, $6, $7, $8)",
    [userId, "test key", "kg_abcdefgh", hash, scopes, expiresAt, maxActive, maxPerMinute],
  );
  return { ...info, hash };
}

/** The hot path's read: the key as stored, with its owner's role. */
async function verify(hash: Buffer): Promise<VerifyRow | undefined> {
  const rows = await database.db.query<VerifyRow>("select * from keygate.lookup_api_key($1)", [hash]);
  return rows[0];
}

async function rotate(userId: string, keyId: string, graceSeconds: number, hash = newHash()) {
  const [info] = await database.db.query<ApiKeyInfoRow>("select * from keygate.rotate_api_key($1, $2, $3, $4, $5)", [
    userId,
    keyId,
    graceSeconds,
    "kg_rotated0",
    hash,
  ]);
  return { ...info, hash };
}

async function revoke(userId: string, keyId: string): Promise<boolean> {
  const [row] = await database.db.query<{ found: boolean }>("select keygate.revoke_api_key($1, $2) as found", [
    userId,
    keyId,
  ]);
  return row.found;
}

async function failure(promise: Promise<unknown>): Promise<KeygateError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KeygateError);
  return err as KeygateError;
}

describe("keygate.create_api_key", () => {
  it("stores the key by hash and returns what a client may see", async () => {
    const user = await createUser(database.admin);
    const key = await createKey(user.id, { scopes: ["jobs:read", "jobs:write"] });
    expect(key).toMatchObject({
      name: "test key",
      start: "kg_abcdefgh",
      scopes: ["jobs:read", "jobs:write"],
      revoked_at: null,
    });
    expect(Object.keys(key)).not.toContain("key_hash");
    const { rows } = await database.admin.query("select key_hash from public.api_keys where id = $1", [key.id]);
    expect(Buffer.compare(rows[0].key_hash, key.hash)).toBe(0);
  });

  it("refuses the 26th active key with key_limit_reached, and counts neither revoked nor expired keys", async () => {
    const user = await createUser(database.admin);
    const keys = [];
    for (let i = 0; i < 25; i++) keys.push(await createKey(user.id));
    expect((await failure(createKey(user.id))).code).toBe("key_limit_reached");

    await revoke(user.id, keys[0].id);
    const replacement = await createKey(user.id);
    await database.admin.query("update public.api_keys set expires_at = now() - interval '1 second' where id = $1", [
      replacement.id,
    ]);
    await createKey(user.id);
    expect((await failure(createKey(user.id))).code).toBe("key_limit_reached");
  });

  it("refuses creations past p_max_per_minute with rate_limited", async () => {
    const user = await createUser(database.admin);
    for (let i = 0; i < 3; i++) await createKey(user.id, { maxPerMinute: 3 });
    const err = await failure(createKey(user.id, { maxPerMinute: 3 }));
    expect(err.code).toBe("rate_limited");
    expect(err.headers["retry-after"]).toBe("60");
    await database.admin.query(
      "update public.api_keys set created_at = now() - interval '2 minutes' where user_id = $1",
      [user.id],
    );
    await createKey(user.id, { maxPerMinute: 3 });
  });

  it("refuses an inactive or unknown user", async () => {
    const inactive = await createUser(database.admin, { is_active: false });
    expect((await failure(createKey(inactive.id))).code).toBe("user_inactive");
    expect((await failure(createKey(randomUUID()))).code).toBe("not_found");
  });

  it("never passes the cap under 50 parallel creations: 25 succeed with distinct ids, 25 get key_limit_reached", async () => {
    const user = await createUser(database.admin);
    const pool = createDb(database.url, { max: 25 });
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 50 }, () =>
          pool.query<ApiKeyInfoRow>(
            "select * from keygate.create_api_key($1, 'parallel', 'kg_parallel', $2, '{}', null, 25, null)",
            [user.id, newHash()],
          ),
        ),
      );
      const created = results.flatMap((r) => (r.status === "fulfilled" ? [r.value[0].id] : []));
      const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
      expect(created).toHaveLength(25);
      expect(new Set(created).size).toBe(25);
      expect(refused).toHaveLength(25);
      for (const err of refused) expect(err).toMatchObject({ name: "KeygateError", code: "key_limit_reached" });
      const { rows } = await database.admin.query("select count(*)::int as n from public.api_keys where user_id = $1", [
        user.id,
      ]);
      expect(rows[0].n).toBe(25);
    } finally {
      await pool.end();
    }
  });
});

describe("keygate.list_api_keys", () => {
  it("lists only the user's keys, newest first, without any hash", async () => {
    const user = await createUser(database.admin);
    const other = await createUser(database.admin);
    const older = await createKey(user.id);
    await database.admin.query("update public.api_keys set created_at = now() - interval '1 hour' where id = $1", [
      older.id,
    ]);
    const newer = await createKey(user.id);
    await createKey(other.id);

    const keys = await database.db.query<ApiKeyInfoRow>("select * from keygate.list_api_keys($1)", [user.id]);
    expect(keys.map((k) => k.id)).toEqual([newer.id, older.id]);
    expect(Object.keys(keys[0]).sort()).toEqual([
      "created_at",
      "expires_at",
      "id",
      "last_used_at",
      "name",
      "revoked_at",
      "scopes",
      "start",
    ]);
  });
});

describe("keygate.revoke_api_key", () => {
  it("revokes at once, and revoking again still answers true", async () => {
    const user = await createUser(database.admin);
    const key = await createKey(user.id);
    expect(await verify(key.hash)).toBeDefined();
    expect(await revoke(user.id, key.id)).toBe(true);
    expect(await verify(key.hash)).toBeUndefined();
    const { rows } = await database.admin.query("select revoked_at from public.api_keys where id = $1", [key.id]);
    expect(await revoke(user.id, key.id)).toBe(true);
    const again = await database.admin.query("select revoked_at from public.api_keys where id = $1", [key.id]);
    expect(again.rows[0].revoked_at).toEqual(rows[0].revoked_at);
  });

  it("answers false for another user's key and leaves it working", async () => {
    const owner = await createUser(database.admin);
    const stranger = await createUser(database.admin);
    const key = await createKey(owner.id);
    expect(await revoke(stranger.id, key.id)).toBe(false);
    expect(await revoke(stranger.id, randomUUID())).toBe(false);
    expect(await verify(key.hash)).toBeDefined();
  });
});

describe("keygate.rotate_api_key", () => {
  it("issues a new key like the old one, which keeps working until its grace period ends", async () => {
    const user = await createUser(database.admin);
    const old = await createKey(user.id, { scopes: ["jobs:write"] });
    const fresh = await rotate(user.id, old.id, 3600);
    expect(fresh).toMatchObject({ name: old.name, scopes: ["jobs:write"], start: "kg_rotated0", revoked_at: null });
    expect(fresh.id).not.toBe(old.id);

    const during = await verify(old.hash);
    expect(during?.key_id).toBe(old.id);
    const graceLeft = during!.valid_until!.getTime() - Date.now();
    expect(graceLeft).toBeGreaterThan(3500_000);
    expect(graceLeft).toBeLessThanOrEqual(3600_000);
    expect((await verify(fresh.hash))?.key_id).toBe(fresh.id);

    // The grace period ends: the old key stops, the new one goes on.
    await database.admin.query("update public.api_keys set revoked_at = now() - interval '1 second' where id = $1", [
      old.id,
    ]);
    expect(await verify(old.hash)).toBeUndefined();
    expect(await verify(fresh.hash)).toBeDefined();
    const { rows } = await database.admin.query("select replaced_by from public.api_keys where id = $1", [old.id]);
    expect(rows[0].replaced_by).toBe(fresh.id);
  });

  it("with no grace period stops the old key at once", async () => {
    const user = await createUser(database.admin);
    const old = await createKey(user.id);
    await rotate(user.id, old.id, 0);
    expect(await verify(old.hash)).toBeUndefined();
  });

  it("ends a grace period early when the old key is revoked", async () => {
    const user = await createUser(database.admin);
    const old = await createKey(user.id);
    await rotate(user.id, old.id, 3600);
    expect(await revoke(user.id, old.id)).toBe(true);
    expect(await verify(old.hash)).toBeUndefined();
  });

  it("refuses a revoked, already rotated or another user's key with not_found", async () => {
    const user = await createUser(database.admin);
    const stranger = await createUser(database.admin);
    const revoked = await createKey(user.id);
    await revoke(user.id, revoked.id);
    expect((await failure(rotate(user.id, revoked.id, 60))).code).toBe("not_found");
    const rotated = await createKey(user.id);
    await rotate(user.id, rotated.id, 60);
    expect((await failure(rotate(user.id, rotated.id, 60))).code).toBe("not_found");
    const theirs = await createKey(stranger.id);
    expect((await failure(rotate(user.id, theirs.id, 60))).code).toBe("not_found");
  });

  it("rotates a key only once when asked twice at the same moment", async () => {
    const user = await createUser(database.admin);
    const old = await createKey(user.id);
    const results = await Promise.allSettled([rotate(user.id, old.id, 60), rotate(user.id, old.id, 60)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(results.find((r) => r.status === "rejected")).toMatchObject({ reason: { code: "not_found" } });
    const { rows } = await database.admin.query("select count(*)::int as n from public.api_keys where user_id = $1", [
      user.id,
    ]);
    expect(rows[0].n).toBe(2);
  });

  it("refuses a grace period outside 0..86400 seconds", async () => {
    const user = await createUser(database.admin);
    const key = await createKey(user.id);
    for (const grace of [-1, 86401]) {
      expect(
        await rotate(user.id, key.id, grace).then(
          () => null,
          (e) => e,
        ),
      ).toMatchObject({ code: "validation_failed", status: 400 });
    }
  });

  it("counts rotations against the per-minute creation rate", async () => {
    const user = await createUser(database.admin);
    const key = await createKey(user.id, { maxPerMinute: 2 });
    const rotateLimited = (id: string) =>
      database.db.query<ApiKeyInfoRow>("select * from keygate.rotate_api_key($1, $2, 60, 'kg_rotated0', $3, 2)", [
        user.id,
        id,
        newHash(),
      ]);
    const [rotated] = await rotateLimited(key.id);
    expect((await failure(rotateLimited(rotated.id))).code).toBe("rate_limited");
  });
});

describe("keygate.lookup_api_key", () => {
  it("returns the owner, the owner's role, scopes and expiry of a live key", async () => {
    const user = await createUser(database.admin);
    const expiresAt = new Date(Date.now() + 86_400_000);
    const key = await createKey(user.id, { scopes: ["jobs:read"], expiresAt });
    expect(await verify(key.hash)).toEqual({
      key_id: key.id,
      user_id: user.id,
      org_id: null,
      created_by: user.id,
      scopes: ["jobs:read"],
      role: "member",
      expires_at: expiresAt,
      valid_until: expiresAt,
      last_used_at: null,
    });
  });

  it("returns the scopes as stored, whatever the owner's role (the verifier applies the ceiling)", async () => {
    const user = await createUser(database.admin, { role: "viewer" });
    const key = await createKey(user.id, { scopes: ["jobs:write", "jobs:read", "x:admin"] });
    expect(await verify(key.hash)).toMatchObject({ scopes: ["jobs:write", "jobs:read", "x:admin"], role: "viewer" });
  });

  it("gives a key without expiry no valid_until", async () => {
    const user = await createUser(database.admin);
    const key = await createKey(user.id);
    expect((await verify(key.hash))?.valid_until).toBeNull();
  });

  it("returns nothing for an unknown, expired or revoked key, or an inactive owner", async () => {
    const user = await createUser(database.admin);
    expect(await verify(newHash())).toBeUndefined();

    const expired = await createKey(user.id, { expiresAt: new Date(Date.now() - 1000) });
    expect(await verify(expired.hash)).toBeUndefined();

    const revoked = await createKey(user.id);
    await revoke(user.id, revoked.id);
    expect(await verify(revoked.hash)).toBeUndefined();

    const live = await createKey(user.id);
    await database.db.query("select keygate.set_user_active($1, false)", [user.id]);
    expect(await verify(live.hash)).toBeUndefined();
    await database.db.query("select keygate.set_user_active($1, true)", [user.id]);
    expect(await verify(live.hash)).toBeDefined();
  });
});

describe("keygate.verify_api_key (no longer the hot path: lookup_api_key with the ceiling applied)", () => {
  const verifyWithCeiling = async (hash: Buffer): Promise<Omit<VerifyRow, "role"> | undefined> =>
    (await database.db.query<Omit<VerifyRow, "role">>("select * from keygate.verify_api_key($1)", [hash]))[0];

  it("returns lookup_api_key's row without the role, with only the scopes the role allows, in stored order", async () => {
    const user = await createUser(database.admin, { role: "viewer" });
    const stored = ["x:admin", "jobs:write", "b:read", "jobs:work", "a:read"];
    const expiresAt = new Date(Date.now() + 86_400_000);
    const key = await createKey(user.id, { scopes: stored, expiresAt });
    const { role, org_id, created_by, ...looked } = (await verify(key.hash))!;
    expect(role).toBe("viewer");
    expect(await verifyWithCeiling(key.hash)).toEqual({ ...looked, scopes: ["b:read", "a:read"] });

    await database.admin.query("update public.users set role = 'member' where id = $1", [user.id]);
    expect((await verifyWithCeiling(key.hash))?.scopes).toEqual(["jobs:write", "b:read", "jobs:work", "a:read"]);
    await database.admin.query("update public.users set role = 'admin' where id = $1", [user.id]);
    expect((await verifyWithCeiling(key.hash))?.scopes).toEqual(stored);
  });

  it("returns nothing where lookup_api_key finds nothing", async () => {
    const user = await createUser(database.admin);
    expect(await verifyWithCeiling(newHash())).toBeUndefined();
    const revoked = await createKey(user.id);
    await revoke(user.id, revoked.id);
    expect(await verifyWithCeiling(revoked.hash)).toBeUndefined();
  });
});

describe("keygate.touch_api_key", () => {
  it("writes last_used_at at most once a minute", async () => {
    const user = await createUser(database.admin);
    const key = await createKey(user.id);
    const touch = async () =>
      (await database.db.query<{ wrote: boolean }>("select keygate.touch_api_key($1) as wrote", [key.id]))[0].wrote;

    expect(await touch()).toBe(true);
    const first = (await verify(key.hash))!.last_used_at;
    expect(first).toBeInstanceOf(Date);
    expect(await touch()).toBe(false);
    expect((await verify(key.hash))!.last_used_at).toEqual(first);

    await database.admin.query(
      "update public.api_keys set last_used_at = now() - interval '61 seconds' where id = $1",
      [key.id],
    );
    expect(await touch()).toBe(true);
  });

  it("writes once under 50 parallel touches of one key", async () => {
    const user = await createUser(database.admin);
    const key = await createKey(user.id);
    const pool = createDb(database.url, { max: 25 });
    try {
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          pool.query<{ wrote: boolean }>("select keygate.touch_api_key($1) as wrote", [key.id]),
        ),
      );
      expect(results.filter(([r]) => r.wrote)).toHaveLength(1);
    } finally {
      await pool.end();
    }
  });

  it("answers false for an unknown key", async () => {
    const [row] = await database.db.query<{ wrote: boolean }>("select keygate.touch_api_key($1) as wrote", [
      randomUUID(),
    ]);
    expect(row.wrote).toBe(false);
  });
});
