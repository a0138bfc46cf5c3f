/**
 * How many key verifications that cost a database read and found no live key
 * one client may cause across the whole cluster: `perMinute` per client
 * address in each minute (a fixed window aligned to the clock), counted in
 * shared counters (counters/window-limiter.ts), so the limit does not grow
 * with the number of isolates.
 *
 * The verifier (verify.ts) acquires before a read and releases after it,
 * counting the read only when it found no live key: valid keys never spend
 * anything, and neither does a read that failed on our side. Reads under way
 * are reserved, so a client firing many at once waits for its earlier reads
 * rather than overshooting; past its share between two flush answers, a read
 * waits (at most the flush interval) for the cluster's total, so a client
 * under the limit is slowed a little, never refused. Malformed keys and cache hits cost no read and
 * never get here.
 *
 * The bound: with `isolates` isolates serving one client, the cluster admits
 * at most perMinute - 1 + isolates x shareOf(perMinute) reads that find no key
 * per client per minute (counters/window-limit.ts). While the counters
 * cannot be flushed (the database is down: those reads fail anyway), each
 * isolate holds the limit on its own, as before: fail-open to a per-isolate
 * limit, never closed by our own outage.
 */
import type { SharedCounters } from "../counters/shared-counters.ts";
import { WindowLimiter } from "../counters/window-limiter.ts";

export const FAILURE_BUCKET = "key_failures";

/** The limiter for `perMinute` (null for 0: no limit). */
export function createFailureLimiter(perMinute: number, counters: SharedCounters): WindowLimiter | null {
  if (!(Number.isInteger(perMinute) && perMinute >= 0)) throw new RangeError("perMinute must be a whole number");
  if (perMinute === 0) return null;
  return new WindowLimiter({ name: FAILURE_BUCKET, limit: perMinute, windowSeconds: 60, counters });
}
