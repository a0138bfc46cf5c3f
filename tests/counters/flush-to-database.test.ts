/**
 * The shared counters' flush against real Postgres: one statement adds an
 * isolate's counts and answers with the cluster totals; concurrent flushes
 * of overlapping buckets lose nothing and never deadlock; expired rows go in
 * bounded batches on write; bad increments are refused; and no client role
 * reaches the table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flushToDatabase } from "../../functions/_shared/counters/flush-to-database.ts";
import { type CounterIncrement, SharedCounters } from "../../functions/_shared/counters/shared-counters.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { inFreshWindow } from "../helpers/limit-window.ts";
import { countingDb } from "../keys/helpers.ts";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

const MINUTE = { seconds: 60, keepSeconds: 60 };
const currentMinute = () => Math.floor(Date.now() / 60_000) * 60;

function increment(bucket: string, n: number, windowStart = currentMinute()): CounterIncrement {
  return { bucket, windowSeconds: 60, windowStart, increment: n, keepSeconds: 60 };
}

describe("flushToDatabase", () => {
  it("adds each isolate's counts in one statement and answers with the cluster totals", async () => {
    // Both isolates must count in the same minute: one window's totals.
    await inFreshWindow(5_000);
    const db = countingDb(t.db);
    const one = new SharedCounters({ flush: flushToDatabase(db) });
    const two = new SharedCounters({ flush: flushToDatabase(db) });
    for (let i = 0; i < 7; i++) one.add("fl:a", MINUTE);
    one.add("fl:b", MINUTE, 2);
    await one.flush();
    two.add("fl:a", MINUTE, 5);
    await two.flush();
    expect(db.calls).toHaveLength(2);
    expect(one.view("fl:a", MINUTE)).toEqual({ known: 7, unsynced: 0 });
    expect(two.view("fl:a", MINUTE)).toEqual({ known: 12, unsynced: 0 });
    const { rows } = await t.admin.query(
      "select bucket, count::int, expires_at - window_start as kept from public.shared_counters where bucket like 'fl:%' order by bucket",
    );
    expect(rows).toEqual([
      { bucket: "fl:a", count: 12, kept: { minutes: 2 } },
      { bucket: "fl:b", count: 2, kept: { minutes: 2 } },
    ]);
  });

  it("loses nothing and never deadlocks when isolates flush overlapping buckets at once", async () => {
    const flush = flushToDatabase(t.db);
    const buckets = Array.from({ length: 20 }, (_, i) => `cc:${i}`);
    await Promise.all(
      Array.from({ length: 12 }, (_, n) =>
        // Each flush names the buckets in its own order, with a repeat.
        flush([...buckets].sort(() => (n % 2 ? 1 : -1)).flatMap((b) => [increment(b, 1), increment(b, 2)])),
      ),
    );
    const { rows } = await t.admin.query(
      "select count(*)::int as n, min(count)::int as lo, max(count)::int as hi from public.shared_counters where bucket like 'cc:%'",
    );
    expect(rows[0]).toEqual({ n: 20, lo: 36, hi: 36 });
  });

  it("deletes expired rows in bounded batches as it writes", async () => {
    await t.admin.query(
      `insert into public.shared_counters (bucket, window_seconds, window_start, count, expires_at)
       select 'old:' || i, 60, to_timestamp(60 * i), 1, now() - interval '1 hour' from generate_series(1, 250) i`,
    );
    const flush = flushToDatabase(t.db);
    const left = async () =>
      Number(
        (await t.admin.query("select count(*) from public.shared_counters where bucket like 'old:%'")).rows[0].count,
      );
    await flush([increment("ret:a", 1)]);
    expect(await left()).toBe(250 - 102); // 100 + 2 x one increment
    await flush([increment("ret:a", 1)]);
    await flush([increment("ret:a", 1)]);
    expect(await left()).toBe(0);
  });

  it("refuses increments it cannot count, as a client's error", async () => {
    const flush = flushToDatabase(t.db);
    for (const bad of [increment("bad", 0), increment("bad", 1, currentMinute() + 1), increment("", 1)]) {
      await expect(flush([bad])).rejects.toMatchObject({ code: "validation_failed" });
    }
    const { rows } = await t.admin.query("select count(*)::int as n from public.shared_counters where bucket = 'bad'");
    expect(rows[0].n).toBe(0);
  });

  it("lets no client role read or write the counters, and the service role only through the function", async () => {
    for (const role of ["anon", "authenticated", "service_role"]) {
      for (const sql of [
        "select * from public.shared_counters",
        "insert into public.shared_counters values ('x', 60, now(), 1, now())",
        "delete from public.shared_counters",
      ]) {
        const client = await t.admin.connect();
        try {
          await client.query(`set role ${role}`);
          await expect(client.query(sql)).rejects.toMatchObject({ code: "42501" });
        } finally {
          await client.query("reset role");
          client.release();
        }
      }
    }
    const client = await t.admin.connect();
    try {
      for (const role of ["anon", "authenticated"]) {
        await client.query(`set role ${role}`);
        await expect(
          client.query("select * from keygate.add_to_shared_counters('{x}', '{60}', '{0}', '{1}', '{0}')"),
        ).rejects.toMatchObject({ code: "42501" });
        await client.query("reset role");
      }
    } finally {
      client.release();
    }
  });
});
