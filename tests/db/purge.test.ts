/**
 * Nothing grows without bound: every new session purges expired sessions,
 * and every new API key purges keys revoked or expired more than 30 days ago,
 * a bounded batch at a time, on any Postgres (no scheduler needed). Jobs a
 * purged key created stay, without the key.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";

let database: TestDatabase;
/** Arranges rows with triggers off (session_replication_role), so arranging purges nothing itself. */
let arranger: pg.Client;

beforeAll(async () => {
  database = await createTestDatabase();
  arranger = new pg.Client({ connectionString: database.url });
  await arranger.connect();
  await arranger.query("set session_replication_role = replica");
});
afterAll(async () => {
  await arranger?.end();
  await database?.drop();
});

const hash = () => randomBytes(32);

async function insertSession(userId: string, expiresAt: string): Promise<string> {
  const { rows } = await arranger.query(
    `insert into public.sessions (user_id, token_hash, created_at, expires_at)
     values ($1, $2, now() - interval '8 days', now() + $3::interval) returning id`,
    [userId, hash(), expiresAt],
  );
  return rows[0].id;
}

async function insertKey(userId: string, fields: { revoked?: string; expires?: string }): Promise<string> {
  const { rows } = await arranger.query(
    `insert into public.api_keys (user_id, name, start, key_hash, scopes, created_at, revoked_at, expires_at)
     values ($1, 'k', 'kg_abcdefg', $2, '{jobs:read}', now() - interval '400 days',
             now() + $3::interval, now() + $4::interval) returning id`,
    [userId, hash(), fields.revoked ?? null, fields.expires ?? null],
  );
  return rows[0].id;
}

async function existing(table: "sessions" | "api_keys", ids: string[]): Promise<string[]> {
  const { rows } = await database.admin.query(`select id from public.${table} where id = any($1::uuid[])`, [ids]);
  return rows.map((r) => r.id).sort();
}

describe("sessions", () => {
  it("are purged once expired when a new one is created", async () => {
    const user = await createUser(database.admin);
    const expired = [await insertSession(user.id, "-1 minute"), await insertSession(user.id, "-3 days")];
    const live = await insertSession(user.id, "1 hour");
    await database.admin.query("select keygate.create_session($1, $2, 3600)", [user.id, hash()]);
    expect(await existing("sessions", [...expired, live])).toEqual([live]);
  });

  it("are purged in bounded batches, so one sign-in never pays for a backlog", async () => {
    const user = await createUser(database.admin);
    await arranger.query(
      `insert into public.sessions (user_id, token_hash, expires_at)
       select $1, decode(md5(random()::text || g) || md5(g::text), 'hex'), now() - interval '1 hour'
         from generate_series(1, 250) g`,
      [user.id],
    );
    const count = async () =>
      (
        await database.admin.query(
          "select count(*)::int as n from public.sessions where user_id = $1 and expires_at < now()",
          [user.id],
        )
      ).rows[0].n;
    await database.admin.query("select keygate.create_session($1, $2, 3600)", [user.id, hash()]);
    expect(await count()).toBe(150);
    await database.admin.query("select keygate.create_session($1, $2, 3600)", [user.id, hash()]);
    await database.admin.query("select keygate.create_session($1, $2, 3600)", [user.id, hash()]);
    expect(await count()).toBe(0);
  });
});

describe("API keys", () => {
  it("are purged 30 days after revocation or expiry when a key is created; jobs keep their rows", async () => {
    const user = await createUser(database.admin);
    const gone = [
      await insertKey(user.id, { revoked: "-31 days" }),
      await insertKey(user.id, { expires: "-31 days" }),
      await insertKey(user.id, { revoked: "-40 days", expires: "10 days" }),
    ];
    const kept = [
      await insertKey(user.id, { revoked: "-29 days" }),
      await insertKey(user.id, { expires: "-29 days" }),
      await insertKey(user.id, { revoked: "1 hour" }), // a rotated key in its grace period
      await insertKey(user.id, {}),
    ];
    const {
      rows: [job],
    } = await arranger.query(
      "insert into public.jobs (user_id, api_key_id, type) values ($1, $2, 'report') returning id",
      [user.id, gone[0]],
    );

    await database.admin.query("select keygate.create_api_key($1, 'new', 'kg_newkey1', $2, '{jobs:read}')", [
      user.id,
      hash(),
    ]);

    expect(await existing("api_keys", [...gone, ...kept])).toEqual([...kept].sort());
    const { rows } = await database.admin.query("select api_key_id from public.jobs where id = $1", [job.id]);
    expect(rows).toEqual([{ api_key_id: null }]);
  });

  it("are purged on rotation too, and never by verification", async () => {
    const user = await createUser(database.admin);
    const old = await insertKey(user.id, { revoked: "-31 days" });
    const [{ valid }] = (
      await database.admin.query("select count(*)::int as valid from keygate.lookup_api_key($1)", [hash()])
    ).rows;
    expect(valid).toBe(0);
    expect(await existing("api_keys", [old])).toEqual([old]);
    const live = await insertKey(user.id, {});
    await database.admin.query("select keygate.rotate_api_key($1, $2, 0, 'kg_rotated', $3)", [user.id, live, hash()]);
    expect(await existing("api_keys", [old])).toEqual([]);
  });
});
