/**
 * The keygate job functions against real Postgres, called as the functions
 * call them (service role): submission outcomes, listing, and transitions
 * that change nothing when they do not apply.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobRow, JobSubmissionRow } from "../../functions/_shared/db/rows.ts";
import { createTestDatabase, createUser, type TestDatabase } from "../helpers/database.ts";

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

async function keyFor(userId: string): Promise<string> {
  const [key] = await database.db.query<{ id: string }>(
    "select id from keygate.create_api_key($1, 'jobs', 'kg_jobskey1', $2, '{jobs:write,jobs:work}')",
    [userId, randomBytes(32)],
  );
  return key.id;
}

interface Submission {
  type?: string;
  payload?: unknown;
  idempotencyKey?: string | null;
  maxPerMinute?: number;
  maxUnfinished?: number;
  maxAttempts?: number;
}

async function submit(userId: string, keyId: string | null, s: Submission = {}): Promise<JobSubmissionRow> {
  const [row] = await database.db.query<JobSubmissionRow>(
    "select * from keygate.create_job($1, $2, $3, $4, null, $5, 0, $6, $7, $8, 7)",
    [
      userId,
      keyId,
      s.type ?? "report",
      s.payload === undefined ? { n: 1 } : s.payload,
      s.maxAttempts ?? 3,
      s.idempotencyKey ?? null,
      s.maxPerMinute ?? 600,
      s.maxUnfinished ?? 1000,
    ],
  );
  return row;
}

const getJob = async (userId: string, id: string) =>
  (await database.db.query<JobRow>("select * from keygate.get_job($1, $2)", [userId, id]))[0];

describe("keygate.create_job", () => {
  it("queues a job for the key's owner and records the key", async () => {
    const user = await createUser(database.admin);
    const keyId = await keyFor(user.id);
    const row = await submit(user.id, keyId, { type: "email.send", payload: { to: "a@example.test" } });
    expect(row.outcome).toBe("created");
    expect(await getJob(user.id, row.job_id!)).toMatchObject({
      user_id: user.id,
      api_key_id: keyId,
      type: "email.send",
      payload: { to: "a@example.test" },
      status: "queued",
      attempts: 0,
      max_attempts: 3,
      priority: 0,
    });
  });

  it("stores an empty object when no payload is given", async () => {
    const user = await createUser(database.admin);
    const row = await submit(user.id, null, { payload: null });
    expect((await getJob(user.id, row.job_id!)).payload).toEqual({});
  });

  it("refuses a malformed type or a payload that is not an object", async () => {
    const user = await createUser(database.admin);
    expect(
      await submit(user.id, null, { type: "bad type!" }).then(
        () => null,
        (e) => e,
      ),
    ).toMatchObject({ code: "validation_failed", status: 400 });
    expect(
      await submit(user.id, null, { payload: JSON.stringify([1, 2]) }).then(
        () => null,
        (e) => e,
      ),
    ).toMatchObject({ code: "validation_failed" });
    expect(
      await submit(user.id, null, { maxAttempts: 0 }).then(
        () => null,
        (e) => e,
      ),
    ).toMatchObject({ code: "validation_failed" });
  });

  it("replays an Idempotency-Key with the same request and names a reuse with another", async () => {
    const user = await createUser(database.admin);
    const first = await submit(user.id, null, { idempotencyKey: "k1" });
    expect(await submit(user.id, null, { idempotencyKey: "k1" })).toEqual({ ...first, outcome: "replayed" });
    expect((await submit(user.id, null, { idempotencyKey: "k1", payload: { n: 2 } })).outcome).toBe(
      "idempotency_key_reused",
    );
    expect((await submit(user.id, null, { idempotencyKey: "k2" })).outcome).toBe("created");
  });

  it("answers rate_limited with a wait, and job_limit_reached past the unfinished cap", async () => {
    const user = await createUser(database.admin);
    for (let i = 0; i < 2; i++) expect((await submit(user.id, null, { maxPerMinute: 2 })).outcome).toBe("created");
    const limited = await submit(user.id, null, { maxPerMinute: 2 });
    expect(limited.outcome).toBe("rate_limited");
    expect(limited.retry_after).toBeGreaterThanOrEqual(1);
    expect(limited.retry_after).toBeLessThanOrEqual(60);
    expect((await submit(user.id, null, { maxUnfinished: 2 })).outcome).toBe("job_limit_reached");
  });

  it("keeps updated_at current when a job changes", async () => {
    const user = await createUser(database.admin);
    const { job_id } = await submit(user.id, null);
    const { rows } = await database.admin.query(
      "update public.jobs set status = 'running', updated_at = '2000-01-01' where id = $1 returning updated_at",
      [job_id],
    );
    expect(Date.now() - rows[0].updated_at.getTime()).toBeLessThan(60_000);
  });

  it("knows the status canceled and not the old spelling", async () => {
    const user = await createUser(database.admin);
    const { job_id } = await submit(user.id, null);
    await expect(
      database.admin.query("update public.jobs set status = 'cancelled' where id = $1", [job_id]),
    ).rejects.toMatchObject({ code: "23514" });
    await database.admin.query("update public.jobs set status = 'canceled' where id = $1", [job_id]);
  });
});

describe("keygate.list_jobs", () => {
  const list = (userId: string, limit: number | null, status: string | null = null) =>
    database.db.query<JobRow>("select * from keygate.list_jobs($1, $2, null, null, null, $3)", [userId, status, limit]);

  it("lists only the owner's jobs, newest first", async () => {
    const user = await createUser(database.admin);
    const other = await createUser(database.admin);
    const older = await submit(user.id, null, { type: "first" });
    await database.admin.query("update public.jobs set created_at = now() - interval '1 hour' where id = $1", [
      older.job_id,
    ]);
    const newer = await submit(user.id, null, { type: "second" });
    await submit(other.id, null, { type: "theirs" });
    expect((await list(user.id, 50)).map((j) => j.id)).toEqual([newer.job_id, older.job_id]);
    expect(await list(user.id, 50, "running")).toEqual([]);
  });

  it("clamps the limit to 1..100", async () => {
    const user = await createUser(database.admin);
    await database.admin.query(
      "insert into public.jobs (user_id, type) select $1, 'bulk' from generate_series(1, 105)",
      [user.id],
    );
    expect((await list(user.id, 0)).length).toBe(1);
    expect((await list(user.id, 3)).length).toBe(3);
    expect((await list(user.id, 1000)).length).toBe(100);
    expect((await list(user.id, null)).length).toBe(50);
  });
});

describe("keygate.get_job", () => {
  it("returns the owner's job and nothing for another user's", async () => {
    const owner = await createUser(database.admin);
    const stranger = await createUser(database.admin);
    const { job_id } = await submit(owner.id, null);
    expect((await getJob(owner.id, job_id!)).id).toBe(job_id);
    expect(await getJob(stranger.id, job_id!)).toBeUndefined();
    expect(await getJob(owner.id, randomUUID())).toBeUndefined();
  });
});

describe("the transitions", () => {
  it("change nothing and return no row when they do not apply", async () => {
    const owner = await createUser(database.admin);
    const keyId = await keyFor(owner.id);
    const otherKey = await keyFor(owner.id);
    const { job_id } = await submit(owner.id, keyId);
    const none = async (sql: string, values: unknown[]) => expect(await database.db.query(sql, values)).toEqual([]);
    // Queued: nothing to report on.
    await none("select * from keygate.complete_job($1, $2, $3, null, null)", [owner.id, keyId, job_id]);
    await none("select * from keygate.heartbeat_job($1, $2, $3)", [owner.id, keyId, job_id]);
    const [claimed] = await database.db.query<JobRow>("select * from keygate.claim_jobs($1, $2, null, 1, 60)", [
      owner.id,
      keyId,
    ]);
    expect(claimed).toMatchObject({
      id: job_id,
      status: "running",
      attempts: 1,
      claimed_by_key_id: keyId,
      lease_seconds: 60,
    });
    // Running: only for the claiming key and its attempt.
    await none("select * from keygate.fail_job($1, $2, $3, null, 'x')", [owner.id, otherKey, job_id]);
    await none("select * from keygate.fail_job($1, $2, $3, 2, 'x')", [owner.id, keyId, job_id]);
    await none("select * from keygate.cancel_job($1, $2)", [(await createUser(database.admin)).id, job_id]);
    expect((await getJob(owner.id, job_id!)).status).toBe("running");
  });

  it("backs off exponentially up to the longest delay", async () => {
    const owner = await createUser(database.admin);
    const keyId = await keyFor(owner.id);
    const { job_id } = await submit(owner.id, keyId, { maxAttempts: 10 });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      await database.admin.query("update public.jobs set run_at = now() where id = $1", [job_id]);
      await database.db.query("select * from keygate.claim_jobs($1, $2, null, 1, 60)", [owner.id, keyId]);
      const [job] = await database.db.query<JobRow>(
        "select * from keygate.fail_job($1, $2, $3, $4, 'x', true, 10, 50)",
        [owner.id, keyId, job_id, attempt],
      );
      delays.push((job.run_at.getTime() - job.updated_at.getTime()) / 1000);
    }
    expect(delays).toEqual([10, 20, 40, 50, 50]);
  });
});
