/**
 * keygate.create_job, list_jobs and get_job against real Postgres.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";
import type { JobRow } from "../../functions/_shared/db-rows.ts";

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

async function keyFor(userId: string): Promise<string> {
  const [key] = await database.db.query<{ id: string }>(
    "select id from keygate.create_api_key($1, 'jobs', 'kg_jobskey1', $2, '{jobs:write}')",
    [userId, randomBytes(32)],
  );
  return key.id;
}

async function createJob(userId: string, keyId: string | null, type = "report", payload: unknown = { n: 1 }): Promise<JobRow> {
  const [job] = await database.db.query<JobRow>("select * from keygate.create_job($1, $2, $3, $4)", [userId, keyId, type, payload]);
  return job;
}

describe("keygate.create_job", () => {
  it("queues a job for the key's owner and records the key", async () => {
    const user = await createUser(database.admin);
    const keyId = await keyFor(user.id);
    const job = await createJob(user.id, keyId, "email.send", { to: "a@example.test" });
    expect(job).toMatchObject({ user_id: user.id, api_key_id: keyId, type: "email.send", payload: { to: "a@example.test" }, status: "queued" });
  });

  it("stores an empty object when no payload is given", async () => {
    const user = await createUser(database.admin);
    expect((await createJob(user.id, null, "report", null)).payload).toEqual({});
  });

  it("refuses a malformed type or a payload that is not an object", async () => {
    const user = await createUser(database.admin);
    expect(await createJob(user.id, null, "bad type!").then(() => null, (e) => e)).toMatchObject({ code: "validation_failed", status: 400 });
    expect(await createJob(user.id, null, "report", JSON.stringify([1, 2])).then(() => null, (e) => e)).toMatchObject({ code: "validation_failed", status: 400 });
  });

  it("keeps updated_at current when a job changes", async () => {
    const user = await createUser(database.admin);
    const job = await createJob(user.id, null);
    const { rows } = await database.admin.query(
      "update public.jobs set status = 'running', updated_at = '2000-01-01' where id = $1 returning updated_at",
      [job.id],
    );
    expect(Date.now() - rows[0].updated_at.getTime()).toBeLessThan(60_000);
  });
});

describe("keygate.list_jobs", () => {
  it("lists only the owner's jobs, newest first", async () => {
    const user = await createUser(database.admin);
    const other = await createUser(database.admin);
    const older = await createJob(user.id, null, "first");
    await database.admin.query("update public.jobs set created_at = now() - interval '1 hour' where id = $1", [older.id]);
    const newer = await createJob(user.id, null, "second");
    await createJob(other.id, null, "theirs");
    const jobs = await database.db.query<JobRow>("select * from keygate.list_jobs($1, $2)", [user.id, 50]);
    expect(jobs.map((j) => j.id)).toEqual([newer.id, older.id]);
  });

  it("clamps the limit to 1..100", async () => {
    const user = await createUser(database.admin);
    await database.admin.query("insert into public.jobs (user_id, type) select $1, 'bulk' from generate_series(1, 105)", [user.id]);
    const count = async (limit: number | null) =>
      (await database.db.query("select * from keygate.list_jobs($1, $2)", [user.id, limit])).length;
    expect(await count(0)).toBe(1);
    expect(await count(3)).toBe(3);
    expect(await count(1000)).toBe(100);
    expect(await count(null)).toBe(50);
  });
});

describe("keygate.get_job", () => {
  it("returns the owner's job and nothing for another user's", async () => {
    const owner = await createUser(database.admin);
    const stranger = await createUser(database.admin);
    const job = await createJob(owner.id, null);
    const get = (userId: string, id: string) => database.db.query<JobRow>("select * from keygate.get_job($1, $2)", [userId, id]);
    expect((await get(owner.id, job.id)).map((j) => j.id)).toEqual([job.id]);
    expect(await get(stranger.id, job.id)).toEqual([]);
    expect(await get(owner.id, randomUUID())).toEqual([]);
  });
});
