/**
 * The flush of shared-counters.ts against Postgres: one statement,
 * `keygate.add_to_shared_counters`, that adds every increment of the batch
 * and answers with the cluster totals of the same buckets (and deletes a
 * bounded batch of expired rows). Pooler-safe: one statement, no session
 * state.
 */
import type { Db } from "../db/db.ts";
import type { CounterTotal, FlushCounters } from "./shared-counters.ts";

export const ADD_TO_SHARED_COUNTERS = "select * from keygate.add_to_shared_counters($1, $2, $3, $4, $5)";

interface TotalRow {
  bucket: string;
  window_seconds: number;
  // bigint columns arrive as strings.
  window_start: string;
  total: string;
}

export function flushToDatabase(db: Db): FlushCounters {
  return async (increments) => {
    const rows = await db.query<TotalRow>(ADD_TO_SHARED_COUNTERS, [
      increments.map((i) => i.bucket),
      increments.map((i) => i.windowSeconds),
      increments.map((i) => i.windowStart),
      increments.map((i) => i.increment),
      increments.map((i) => i.keepSeconds),
    ]);
    return rows.map(
      (r): CounterTotal => ({
        bucket: r.bucket,
        windowSeconds: r.window_seconds,
        windowStart: Number(r.window_start),
        total: Number(r.total),
      }),
    );
  };
}
