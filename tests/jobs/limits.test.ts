/**
 * The job limits through the real server, with small settings: a per-user
 * submission rate (429 with Retry-After), a cap on unfinished jobs (409), and
 * retention of finished jobs purged on write in bounded batches.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type KeyHolder, userWithKey } from "../helpers/keys.ts";
import { useStack } from "../helpers/stack.ts";
import { jobsClient, post } from "./helpers.ts";

let jobs: ReturnType<typeof jobsClient>;

const stack = useStack({ env: { JOBS_CREATE_PER_MINUTE: "6", JOBS_MAX_UNFINISHED: "3", JOBS_RETENTION_DAYS: "7" } });
beforeAll(async () => {
  jobs = jobsClient(stack.url);
});

const count = async (sql: string, values: unknown[]) => (await stack.admin.query(sql, values)).rows[0].n as number;
const jobsOf = (holder: KeyHolder) =>
  count("select count(*)::int as n from public.jobs where user_id = $1", [holder.userId]);

async function finishAll(holder: KeyHolder): Promise<void> {
  const claimed = await jobs("jobs/claim", holder.key, post({ limit: 100 }));
  for (const job of claimed.body.jobs) await jobs(`jobs/${job.id}/complete`, holder.key, post());
}

describe("job limits", () => {
  it("refuses a job past the cap of unfinished jobs with 409 job_limit_reached, until one finishes", async () => {
    const owner = await userWithKey(stack.admin);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await jobs("jobs", owner.key, post({ type: "cap" }))).body.id);
    const over = await jobs("jobs", owner.key, post({ type: "cap" }));
    expect([over.status, over.body.error.code]).toEqual([409, "job_limit_reached"]);
    expect(await jobsOf(owner)).toBe(3);

    await jobs(`jobs/${ids[0]}/cancel`, owner.key, post());
    expect((await jobs("jobs", owner.key, post({ type: "cap" }))).status).toBe(202);
    // Running jobs count as unfinished too.
    await jobs("jobs/claim", owner.key, post({ limit: 3 }));
    expect((await jobs("jobs", owner.key, post({ type: "cap" }))).status).toBe(409);
  });

  it("refuses a job past the per-minute rate with 429 rate_limited and Retry-After, for that user only", async () => {
    const owner = await userWithKey(stack.admin);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 3; i++)
        expect(
          (await jobs("jobs", owner.key, post({ type: "rate" }, { "idempotency-key": `r${round}-${i}` }))).status,
        ).toBe(202);
      await finishAll(owner);
    }
    const over = await jobs("jobs", owner.key, post({ type: "rate" }));
    expect([over.status, over.body.error.code]).toEqual([429, "rate_limited"]);
    const retryAfter = Number(over.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await jobsOf(owner)).toBe(6);

    // A retried submission still gets its first answer; other users are not limited.
    const replay = await jobs("jobs", owner.key, post({ type: "rate" }, { "idempotency-key": "r1-2" }));
    expect(replay.status).toBe(202);
    const other = await userWithKey(stack.admin);
    expect((await jobs("jobs", other.key, post({ type: "rate" }))).status).toBe(202);
  });

  it("deletes finished jobs past retention on each submission, at most 100 at a time, and keeps the rest", async () => {
    const old = await userWithKey(stack.admin);
    await stack.admin.query(
      `insert into public.jobs (user_id, type, status, finished_at, created_at)
       select $1, 'old', s, now() - interval '8 days', now() - interval '9 days'
         from unnest(array['succeeded', 'failed', 'canceled']) s, generate_series(1, 50)`,
      [old.userId],
    );
    await stack.admin.query(
      `insert into public.jobs (user_id, type, status, finished_at, created_at) values
         ($1, 'recent', 'succeeded', now() - interval '6 days', now() - interval '6 days'),
         ($1, 'waiting', 'queued', null, now() - interval '30 days')`,
      [old.userId],
    );
    const writer = await userWithKey(stack.admin);
    const oldCount = () =>
      count("select count(*)::int as n from public.jobs where user_id = $1 and type = 'old'", [old.userId]);
    expect(await oldCount()).toBe(150);
    await jobs("jobs", writer.key, post({ type: "trigger" }));
    expect(await oldCount()).toBe(50);
    await jobs("jobs", writer.key, post({ type: "trigger" }));
    expect(await oldCount()).toBe(0);
    const { rows } = await stack.admin.query("select type from public.jobs where user_id = $1 order by type", [
      old.userId,
    ]);
    expect(rows.map((r) => r.type)).toEqual(["recent", "waiting"]);
  });
});
