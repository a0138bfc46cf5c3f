import { describe, expect, it } from "vitest";
import {
  type CounterIncrement,
  type CounterTotal,
  SharedCounters,
} from "../../functions/_shared/counters/shared-counters.ts";
import type { WindowLimiter } from "../../functions/_shared/counters/window-limiter.ts";
import { createFailureLimiter } from "../../functions/_shared/keys/failure-limiter.ts";
import { fakeClock } from "../helpers/fake-clock.ts";

const START = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;

function sharedTable() {
  const totals = new Map<string, number>();
  const flushed: CounterIncrement[] = [];
  const flush = async (batch: readonly CounterIncrement[]): Promise<CounterTotal[]> =>
    batch.map((i) => {
      flushed.push(i);
      const total = (totals.get(i.bucket) ?? 0) + i.increment;
      totals.set(i.bucket, total);
      return { bucket: i.bucket, windowSeconds: i.windowSeconds, windowStart: i.windowStart, total };
    });
  return { flush, flushed };
}

/** One read that found no key: admitted, then counted. */
function fail(limiter: WindowLimiter, client: string, now: number): boolean {
  const admission = limiter.acquire(client, now);
  if (admission.kind !== "admit") return false;
  limiter.release(admission.ticket, true, now);
  return true;
}

describe("createFailureLimiter", () => {
  it("allows perMinute failures per client across isolates, then refuses until the minute ends", async () => {
    const table = sharedTable();
    const clock = fakeClock(START + 50_000);
    const stores = [0, 1, 2].map(() => new SharedCounters({ flush: table.flush, now: clock.now }));
    const limiters = stores.map((s) => createFailureLimiter(6, s)!);
    let admitted = 0;
    for (let round = 0; round < 8; round++) {
      for (const limiter of limiters) if (fail(limiter, "198.51.100.7", clock.now())) admitted++;
      for (const store of stores) await store.flush();
    }
    // 6 - 1 + 3 isolates x share 1; a limiter per isolate would have allowed 18.
    expect(admitted).toBeGreaterThanOrEqual(6);
    expect(admitted).toBeLessThanOrEqual(8);
    expect(limiters[1].acquire("198.51.100.7", clock.now())).toMatchObject({
      kind: "refuse",
      reason: "limit",
      retryAfterSeconds: 10,
    });
    expect(table.flushed.every((i) => i.bucket === "key_failures:198.51.100.7" && i.windowSeconds === 60)).toBe(true);
    clock.advance(10_000);
    expect(fail(limiters[1], "198.51.100.7", clock.now())).toBe(true);
  });

  it("spends nothing on reads that found a live key, however many", () => {
    const clock = fakeClock(START);
    const store = new SharedCounters({ flush: sharedTable().flush, now: clock.now });
    const limiter = createFailureLimiter(2, store)!;
    for (let i = 0; i < 100; i++) {
      const admission = limiter.acquire("a", clock.now());
      expect(admission.kind).toBe("admit");
      if (admission.kind === "admit") limiter.release(admission.ticket, false, clock.now());
    }
    expect(store.size).toBe(0);
  });

  it("is no limit at 0", () => {
    expect(createFailureLimiter(0, new SharedCounters({ flush: sharedTable().flush }))).toBeNull();
    expect(() => createFailureLimiter(1.5, new SharedCounters({ flush: sharedTable().flush }))).toThrow(RangeError);
  });
});
