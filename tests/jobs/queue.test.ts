/**
 * The job queue through the real Deno server: claim, heartbeat, complete,
 * fail with backoff, cancel, lease expiry, ownership, scopes, paging,
 * field caps, and the races (many claimers, many identical submissions).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type Call, until } from "../helpers/call.ts";
import { anotherKey, type KeyHolder, userWithKey } from "../helpers/keys.ts";
import { useStack } from "../helpers/stack.ts";
import { jobsClient, post, statusOf } from "./helpers.ts";

let jobs: ReturnType<typeof jobsClient>;

const stack = useStack({ env: { JOBS_RETRY_BASE_SECONDS: "1", JOBS_RETRY_MAX_SECONDS: "60" } });
beforeAll(async () => {
  jobs = jobsClient(stack.url);
});

async function submit(holder: KeyHolder, body: Record<string, unknown> = { type: "work" }): Promise<string> {
  const res = await jobs("jobs", holder.key, post(body));
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id;
}

/** A job as the API returns it: the fields these tests read. */
interface JobJson {
  id: string;
  type: string;
  attempts: number;
  claimed_by_key_id: string | null;
  lease_expires_at: string;
  updated_at: string;
}

async function claim(holder: KeyHolder, body: Record<string, unknown> = {}): Promise<JobJson[]> {
  const res = await jobs("jobs/claim", holder.key, post(body));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.jobs;
}

const refusal = (res: Call) => [res.status, res.body?.error?.code];

describe("the lifecycle", () => {
  it("claims, heartbeats with progress and completes a job, then refuses every further transition", async () => {
    const owner = await userWithKey(stack.admin);
    const worker = await anotherKey(stack.admin, owner, ["jobs:work"]);
    const id = await submit(owner, { type: "report", payload: { month: "2026-11" }, max_attempts: 2 });

    const [claimed] = await claim(worker, { lease_seconds: 30 });
    expect(claimed).toMatchObject({
      id,
      type: "report",
      status: "running",
      payload: { month: "2026-11" },
      attempts: 1,
      max_attempts: 2,
      created_by_key_id: owner.keyId,
      claimed_by_key_id: worker.keyId,
      progress: null,
    });
    const leaseEnd = Date.parse(claimed.lease_expires_at);
    expect(leaseEnd - Date.parse(claimed.updated_at)).toBe(30_000);

    const beat = await jobs(
      `jobs/${id}/heartbeat`,
      worker.key,
      post({ attempt: 1, progress: { done: 3, total: 10 }, lease_seconds: 120 }),
    );
    expect(beat.status).toBe(200);
    expect(beat.body).toMatchObject({ status: "running", progress: { done: 3, total: 10 } });
    expect(Date.parse(beat.body.lease_expires_at) - Date.parse(beat.body.updated_at)).toBe(120_000);

    const read = await jobs(`jobs/${id}`, owner.key);
    expect(read.body).toMatchObject({
      status: "running",
      progress: { done: 3, total: 10 },
      claimed_by_key_id: worker.keyId,
    });

    const done = await jobs(`jobs/${id}/complete`, worker.key, post({ attempt: 1, result: { rows: 42 } }));
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: "succeeded", result: { rows: 42 }, error: null, lease_expires_at: null });
    expect(done.body.finished_at).not.toBeNull();

    expect(refusal(await jobs(`jobs/${id}/complete`, worker.key, post({})))).toEqual([409, "job_not_running"]);
    expect(refusal(await jobs(`jobs/${id}/heartbeat`, worker.key, post({})))).toEqual([409, "job_not_running"]);
    expect(refusal(await jobs(`jobs/${id}/fail`, worker.key, post({ error: "late" })))).toEqual([
      409,
      "job_not_running",
    ]);
    expect(refusal(await jobs(`jobs/${id}/cancel`, owner.key, post()))).toEqual([409, "job_already_finished"]);
    expect((await jobs(`jobs/${id}`, owner.key)).body).toMatchObject({ status: "succeeded", result: { rows: 42 } });
  });

  it("refuses to report on a queued job", async () => {
    const owner = await userWithKey(stack.admin);
    const id = await submit(owner);
    for (const action of ["heartbeat", "complete"]) {
      expect(refusal(await jobs(`jobs/${id}/${action}`, owner.key, post()))).toEqual([409, "job_not_running"]);
    }
    expect(await statusOf(stack.admin, id)).toBe("queued");
  });

  it("hands out priority first, then the oldest due, only of the asked types, and not jobs due later", async () => {
    const owner = await userWithKey(stack.admin);
    const low = await submit(owner, { type: "mail", priority: -5 });
    const old = await submit(owner, { type: "mail" });
    const newer = await submit(owner, { type: "mail" });
    const urgent = await submit(owner, { type: "mail", priority: 10 });
    await submit(owner, { type: "mail", run_at: new Date(Date.now() + 3_600_000).toISOString() });
    await submit(owner, { type: "other" });
    const claimed = await claim(owner, { types: ["mail"], limit: 10 });
    expect(claimed.map((j) => j.id)).toEqual([urgent, old, newer, low]);
    expect(await claim(owner, { types: ["mail"] })).toEqual([]);
    expect((await claim(owner)).map((j) => j.type)).toEqual(["other"]);
  });

  it("lets only the key that claimed a job report on it, and only for its attempt", async () => {
    const owner = await userWithKey(stack.admin);
    const holder = await anotherKey(stack.admin, owner, ["jobs:work"]);
    const sibling = await anotherKey(stack.admin, owner, ["jobs:work"]);
    const id = await submit(owner);
    await claim(holder);
    for (const action of ["heartbeat", "complete", "fail"]) {
      const res = await jobs(`jobs/${id}/${action}`, sibling.key, post(action === "fail" ? { error: "x" } : {}));
      expect(refusal(res)).toEqual([409, "lease_not_held"]);
    }
    expect(refusal(await jobs(`jobs/${id}/complete`, holder.key, post({ attempt: 2 })))).toEqual([
      409,
      "lease_not_held",
    ]);
    expect(await statusOf(stack.admin, id)).toBe("running");
    expect((await jobs(`jobs/${id}/complete`, holder.key, post({ attempt: 1 }))).status).toBe(200);
  });

  it("retries a failed job with exponential backoff until it is out of attempts, then fails it", async () => {
    const owner = await userWithKey(stack.admin);
    const id = await submit(owner, { type: "flaky", max_attempts: 3 });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
      const [job] = await claim(owner, { types: ["flaky"] });
      expect([job.id, job.attempts]).toEqual([id, attempt]);
      const failed = await jobs(`jobs/${id}/fail`, owner.key, post({ attempt, error: `boom ${attempt}` }));
      expect(failed.body).toMatchObject({
        status: "queued",
        attempts: attempt,
        error: `boom ${attempt}`,
        finished_at: null,
      });
      delays.push(Date.parse(failed.body.run_at) - Date.parse(failed.body.updated_at));
      // Not due yet: nothing to claim. Then make it due instead of waiting out the backoff.
      expect(await claim(owner, { types: ["flaky"] })).toEqual([]);
      await stack.admin.query("update public.jobs set run_at = now() where id = $1", [id]);
    }
    expect(delays).toEqual([1000, 2000]);
    await claim(owner, { types: ["flaky"] });
    const last = await jobs(`jobs/${id}/fail`, owner.key, post({ attempt: 3, error: "boom 3" }));
    expect(last.body).toMatchObject({ status: "failed", attempts: 3, error: "boom 3" });
    expect(last.body.finished_at).not.toBeNull();
    expect(await claim(owner, { types: ["flaky"] })).toEqual([]);
  });

  it("fails a job at once when the worker says not to retry", async () => {
    const owner = await userWithKey(stack.admin);
    const id = await submit(owner, { type: "fatal", max_attempts: 5 });
    await claim(owner, { types: ["fatal"] });
    const res = await jobs(`jobs/${id}/fail`, owner.key, post({ error: "bad input", retry: false }));
    expect(res.body).toMatchObject({ status: "failed", attempts: 1, error: "bad input" });
  });

  it("cancels a queued job and a running one, whose worker is then refused", async () => {
    const owner = await userWithKey(stack.admin);
    const queued = await submit(owner, { type: "a" });
    const running = await submit(owner, { type: "b" });
    await claim(owner, { types: ["b"] });
    for (const id of [queued, running]) {
      const res = await jobs(`jobs/${id}/cancel`, owner.key, post());
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id, status: "canceled", lease_expires_at: null });
    }
    expect(refusal(await jobs(`jobs/${running}/heartbeat`, owner.key, post()))).toEqual([409, "job_not_running"]);
    expect(refusal(await jobs(`jobs/${queued}/cancel`, owner.key, post()))).toEqual([409, "job_already_finished"]);
    expect(await claim(owner)).toEqual([]);
  });
});

describe("leases", () => {
  it("reclaims a silent worker's job when its lease ends, and another worker completes it", async () => {
    const owner = await userWithKey(stack.admin);
    const silent = await anotherKey(stack.admin, owner, ["jobs:work"]);
    const rescuer = await anotherKey(stack.admin, owner, ["jobs:work"]);
    const id = await submit(owner, { type: "lease" });
    const [first] = await claim(silent, { lease_seconds: 1 });
    expect(first.id).toBe(id);

    const reclaimed = await until(
      () => claim(rescuer, { types: ["lease"] }),
      (got) => got.length > 0,
      10_000,
    );
    expect(reclaimed.map((j) => [j.id, j.attempts, j.claimed_by_key_id])).toEqual([[id, 2, rescuer.keyId]]);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(first.lease_expires_at));

    expect(refusal(await jobs(`jobs/${id}/complete`, silent.key, post({ attempt: 1 })))).toEqual([
      409,
      "lease_not_held",
    ]);
    const done = await jobs(`jobs/${id}/complete`, rescuer.key, post({ attempt: 2, result: { ok: true } }));
    expect(done.body).toMatchObject({ status: "succeeded", attempts: 2, result: { ok: true } });
  });

  it("refuses a worker whose lease ended and whose job the same key claimed again", async () => {
    const owner = await userWithKey(stack.admin);
    const id = await submit(owner, { type: "same-key" });
    await claim(owner, { types: ["same-key"], lease_seconds: 1 });
    const again = await until(
      () => claim(owner, { types: ["same-key"] }),
      (got) => got.length > 0,
      10_000,
    );
    expect(again.map((j) => [j.id, j.attempts])).toEqual([[id, 2]]);
    expect(refusal(await jobs(`jobs/${id}/fail`, owner.key, post({ attempt: 1, error: "stale" })))).toEqual([
      409,
      "lease_not_held",
    ]);
    expect(await statusOf(stack.admin, id)).toBe("running");
  });

  it("fails a job whose lease ends on its last attempt", async () => {
    const owner = await userWithKey(stack.admin);
    const id = await submit(owner, { type: "last", max_attempts: 1 });
    await claim(owner, { types: ["last"], lease_seconds: 1 });
    const job = await until(
      async () => {
        await claim(owner, { types: ["nothing-of-this-type"] }); // a claim reclaims expired leases, whatever the types
        return (await jobs(`jobs/${id}`, owner.key)).body;
      },
      (got) => got.status !== "running",
      10_000,
    );
    expect(job).toMatchObject({ status: "failed", attempts: 1, lease_expires_at: null });
    expect(job.error).toMatch(/lease expired/);
  });

  it("keeps a job while its worker heartbeats past the first lease", async () => {
    const owner = await userWithKey(stack.admin);
    const other = await anotherKey(stack.admin, owner, ["jobs:work"]);
    const id = await submit(owner, { type: "long" });
    const [job] = await claim(owner, { types: ["long"], lease_seconds: 1 });
    const beat = await jobs(`jobs/${id}/heartbeat`, owner.key, post({ lease_seconds: 30 }));
    expect(Date.parse(beat.body.lease_expires_at)).toBeGreaterThan(Date.parse(job.lease_expires_at));
    await stack.admin.query("select pg_sleep(1.1)");
    expect(await claim(other, { types: ["long"] })).toEqual([]);
    expect(await statusOf(stack.admin, id)).toBe("running");
  });
});

describe("ownership and scopes", () => {
  it("keeps another user's key from seeing or touching a job: 404 everywhere, never claimed", async () => {
    const owner = await userWithKey(stack.admin);
    const stranger = await userWithKey(stack.admin);
    const id = await submit(owner, { type: "private" });
    expect(refusal(await jobs(`jobs/${id}`, stranger.key))).toEqual([404, "not_found"]);
    for (const action of ["heartbeat", "complete", "fail", "cancel"]) {
      const res = await jobs(`jobs/${id}/${action}`, stranger.key, post(action === "fail" ? { error: "x" } : {}));
      expect(refusal(res), action).toEqual([404, "not_found"]);
    }
    expect(await claim(stranger, { types: ["private"], limit: 100 })).toEqual([]);
    expect((await jobs("jobs", stranger.key)).body.jobs).toEqual([]);
    expect(await statusOf(stack.admin, id)).toBe("queued");

    // Running, too: the stranger cannot report on it.
    await claim(owner, { types: ["private"] });
    expect(refusal(await jobs(`jobs/${id}/complete`, stranger.key, post()))).toEqual([404, "not_found"]);
    expect(await statusOf(stack.admin, id)).toBe("running");
  });

  it("asks jobs:work to claim and report, jobs:write to submit and cancel, jobs:read to read", async () => {
    const owner = await userWithKey(stack.admin);
    const writer = await anotherKey(stack.admin, owner, ["jobs:write"]);
    const worker = await anotherKey(stack.admin, owner, ["jobs:work"]);
    const reader = await anotherKey(stack.admin, owner, ["jobs:read"]);
    const id = await submit(writer);
    const denied = [
      await jobs("jobs/claim", writer.key, post()),
      await jobs("jobs/claim", reader.key, post()),
      await jobs(`jobs/${id}/heartbeat`, writer.key, post()),
      await jobs(`jobs/${id}/complete`, reader.key, post()),
      await jobs(`jobs/${id}/fail`, writer.key, post({ error: "x" })),
      await jobs("jobs", worker.key, post({ type: "x" })),
      await jobs(`jobs/${id}/cancel`, worker.key, post()),
      await jobs(`jobs/${id}/cancel`, reader.key, post()),
      await jobs(`jobs/${id}`, worker.key),
    ];
    expect(denied.map(refusal)).toEqual(denied.map(() => [403, "insufficient_scope"]));
    expect(await statusOf(stack.admin, id)).toBe("queued");
    expect((await jobs(`jobs/${id}`, reader.key)).status).toBe(200);
  });
});

describe("reading", () => {
  it("lists newest first by status and type, page by page with a cursor", async () => {
    const owner = await userWithKey(stack.admin);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await submit(owner, { type: i % 2 === 0 ? "even" : "odd" }));
    await jobs(`jobs/${ids[1]}/cancel`, owner.key, post());

    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const res: Call = await jobs(`jobs?limit=2${cursor ? `&cursor=${cursor}` : ""}`, owner.key);
      expect(res.status).toBe(200);
      seen.push(...res.body.jobs.map((j: { id: string }) => j.id));
      cursor = res.body.next_cursor;
      if (!cursor) break;
    }
    expect(seen).toEqual([...ids].reverse());

    const ofType = await jobs("jobs?type=even", owner.key);
    expect(ofType.body.jobs.map((j: { id: string }) => j.id)).toEqual([ids[4], ids[2], ids[0]]);
    const canceled = await jobs("jobs?status=canceled", owner.key);
    expect(canceled.body.jobs.map((j: { id: string }) => j.id)).toEqual([ids[1]]);
    expect((await jobs("jobs?status=odd&type=odd", owner.key)).status).toBe(400);
    for (const bad of ["status=done", "type=has%20space", "cursor=nope!", "cursor=YWJj", "limit=0"]) {
      expect(refusal(await jobs(`jobs?${bad}`, owner.key)), bad).toEqual([400, "validation_failed"]);
    }
  });
});

describe("refusals of bad input", () => {
  it("caps payload, result, progress and error with 413, and changes nothing", async () => {
    const owner = await userWithKey(stack.admin);
    const big = await jobs("jobs", owner.key, post({ type: "x", payload: { blob: "y".repeat(9 * 1024) } }));
    expect(refusal(big)).toEqual([413, "payload_too_large"]);
    expect(big.body.error.message).toMatch(/^payload/);
    const id = await submit(owner, { type: "caps" });
    await claim(owner, { types: ["caps"] });
    const tooBig = [
      await jobs(`jobs/${id}/complete`, owner.key, post({ result: { blob: "y".repeat(9 * 1024) } })),
      await jobs(`jobs/${id}/heartbeat`, owner.key, post({ progress: "y".repeat(1100) })),
      await jobs(`jobs/${id}/fail`, owner.key, post({ error: "y".repeat(2001) })),
    ];
    expect(tooBig.map(refusal)).toEqual(tooBig.map(() => [413, "payload_too_large"]));
    expect((await jobs(`jobs/${id}`, owner.key)).body).toMatchObject({
      status: "running",
      progress: null,
      result: null,
      error: null,
    });
  });

  it("answers 400 to bad bodies and headers, 404 to unknown jobs and actions, 405 to other methods", async () => {
    const owner = await userWithKey(stack.admin);
    const id = await submit(owner, { type: "shape" });
    const bad = [
      await jobs("jobs", owner.key, post({ type: "x", max_attempts: 0 })),
      await jobs("jobs", owner.key, post({ type: "x", max_attempts: 26 })),
      await jobs("jobs", owner.key, post({ type: "x", priority: 101 })),
      await jobs("jobs", owner.key, post({ type: "x", run_at: "tomorrow" })),
      await jobs("jobs", owner.key, post({ type: "x", run_at: "2999-01-01T00:00:00Z" })),
      await jobs("jobs", owner.key, post({ type: "x" }, { "idempotency-key": "k".repeat(256) })),
      await jobs("jobs/claim", owner.key, post({ limit: 0 })),
      await jobs("jobs/claim", owner.key, post({ limit: 101 })),
      await jobs("jobs/claim", owner.key, post({ lease_seconds: 3601 })),
      await jobs("jobs/claim", owner.key, post({ types: [] })),
      await jobs("jobs/claim", owner.key, post({ types: ["bad type"] })),
      await jobs(`jobs/${id}/fail`, owner.key, post({})),
      await jobs(`jobs/${id}/fail`, owner.key, post({ error: "x", retry: "yes" })),
      await jobs(`jobs/${id}/heartbeat`, owner.key, post({ attempt: 0 })),
      await jobs(`jobs/${id}/cancel`, owner.key, post({ reason: "x" })),
    ];
    expect(bad.map(refusal)).toEqual(bad.map(() => [400, "validation_failed"]));
    expect(await statusOf(stack.admin, id)).toBe("queued");
    expect(
      Number(
        (await stack.admin.query("select count(*) from public.jobs where user_id = $1", [owner.userId])).rows[0].count,
      ),
    ).toBe(1);
    expect((await jobs(`jobs/${id}/fail`, owner.key, post({ error: "x" }))).status).toBe(409);

    // Values the database itself refuses are the caller's fault too: 400, never a 5xx.
    const odd = [
      await jobs("jobs", owner.key, post({ type: "x", payload: { s: "nul\u0000" } })),
      await jobs(`jobs?cursor=${btoa(`-999999999999999999.${id}`).replace(/=+$/, "")}`, owner.key),
    ];
    expect(odd.map(refusal)).toEqual(odd.map(() => [400, "validation_failed"]));
    const ancient = await jobs("jobs", owner.key, post({ type: "ancient", run_at: "0001-01-01T00:00:00Z" }));
    expect(ancient.status).toBe(202);

    expect(refusal(await jobs(`jobs/${crypto.randomUUID()}/cancel`, owner.key, post()))).toEqual([404, "not_found"]);
    expect(refusal(await jobs("jobs/not-a-uuid/cancel", owner.key, post()))).toEqual([404, "not_found"]);
    expect(refusal(await jobs(`jobs/${id}/explode`, owner.key, post()))).toEqual([404, "not_found"]);
    expect(refusal(await jobs(`jobs/${id}/cancel/now`, owner.key, post()))).toEqual([404, "not_found"]);
    expect(refusal(await jobs("jobs/claim", owner.key))).toEqual([405, "method_not_allowed"]);
    expect(refusal(await jobs(`jobs/${id}/complete`, owner.key))).toEqual([405, "method_not_allowed"]);
  });
});

describe("races", () => {
  it("hands each of 200 jobs to exactly one of 20 concurrent claimers", async () => {
    const owner = await userWithKey(stack.admin);
    const submitted: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      submitted.push(...(await Promise.all(Array.from({ length: 20 }, () => submit(owner, { type: "race" })))));
    }
    const workers = await Promise.all(Array.from({ length: 20 }, () => anotherKey(stack.admin, owner, ["jobs:work"])));
    const claimedBy = new Map<string, string[]>();
    await Promise.all(
      workers.map(async (worker) => {
        for (let round = 0; round < 100; round++) {
          const got = await claim(worker, { types: ["race"], limit: 3, lease_seconds: 600 });
          if (got.length === 0) return;
          for (const job of got) claimedBy.set(job.id, [...(claimedBy.get(job.id) ?? []), worker.keyId]);
        }
      }),
    );
    expect([...claimedBy.keys()].sort()).toEqual([...submitted].sort());
    expect([...claimedBy.values()].filter((keys) => keys.length !== 1)).toEqual([]);
    expect(new Set([...claimedBy.values()].flat()).size).toBeGreaterThan(1);
    const { rows } = await stack.admin.query(
      "select count(*)::int as n, min(attempts) as lo, max(attempts) as hi from public.jobs where user_id = $1 and status = 'running'",
      [owner.userId],
    );
    expect(rows[0]).toEqual({ n: 200, lo: 1, hi: 1 });
  });

  it("makes one job of 25 identical submissions at once with one Idempotency-Key, and answers each the same", async () => {
    const owner = await userWithKey(stack.admin);
    const body = { type: "charge", payload: { amount: 100 } };
    const answers = await Promise.all(
      Array.from({ length: 25 }, () => jobs("jobs", owner.key, post(body, { "idempotency-key": "order-17" }))),
    );
    expect(new Set(answers.map((a) => a.status))).toEqual(new Set([202]));
    expect(new Set(answers.map((a) => JSON.stringify(a.body))).size).toBe(1);
    expect(answers.filter((a) => a.headers.get("idempotent-replayed") === "true")).toHaveLength(24);
    const { rows } = await stack.admin.query("select id from public.jobs where user_id = $1", [owner.userId]);
    expect(rows.map((r) => r.id)).toEqual([answers[0].body.id]);

    // The first answer still, after the job ran; another body with the key is refused.
    const [job] = await claim(owner, { types: ["charge"] });
    await jobs(`jobs/${job.id}/complete`, owner.key, post());
    const later = await jobs("jobs", owner.key, post(body, { "idempotency-key": "order-17" }));
    expect([later.status, later.body]).toEqual([202, answers[0].body]);
    const other = await jobs(
      "jobs",
      owner.key,
      post({ ...body, payload: { amount: 999 } }, { "idempotency-key": "order-17" }),
    );
    expect(refusal(other)).toEqual([409, "idempotency_key_reused"]);
    expect(
      (await stack.admin.query("select count(*)::int as n from public.jobs where user_id = $1", [owner.userId])).rows[0]
        .n,
    ).toBe(1);

    // Keys are per owner: another user's same key makes their own job.
    const stranger = await userWithKey(stack.admin);
    const theirs = await jobs("jobs", stranger.key, post(body, { "idempotency-key": "order-17" }));
    expect(theirs.status).toBe(202);
    expect(theirs.body.id).not.toBe(answers[0].body.id);
  });
});
