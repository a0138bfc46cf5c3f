import { describe, expect, it } from "vitest";
import {
  type CounterIncrement,
  type CounterTotal,
  SharedCounters,
} from "../../functions/_shared/counters/shared-counters.ts";
import { type Admission, WindowLimiter } from "../../functions/_shared/counters/window-limiter.ts";
import { fakeClock } from "../helpers/fake-clock.ts";

const START = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;

/** One table's totals, shared by every store (isolate) given its flush. */
function cluster() {
  const totals = new Map<string, number>();
  return async (batch: readonly CounterIncrement[]): Promise<CounterTotal[]> =>
    batch.map((i) => {
      const key = `${i.bucket}/${i.windowStart}`;
      const total = (totals.get(key) ?? 0) + i.increment;
      totals.set(key, total);
      return { bucket: i.bucket, windowSeconds: i.windowSeconds, windowStart: i.windowStart, total };
    });
}

function isolate(flush: ReturnType<typeof cluster>, now: () => number, limit: number, maxEntries?: number) {
  const counters = new SharedCounters({ flush, now, maxEntries });
  return { counters, limiter: new WindowLimiter({ name: "t", limit, windowSeconds: 60, counters }) };
}

/** Acquires and, when admitted, ends the attempt as one that counts. */
function fail(limiter: WindowLimiter, key: string, now: number): Admission["kind"] {
  const admission = limiter.acquire(key, now);
  if (admission.kind === "admit") limiter.release(admission.ticket, true, now);
  return admission.kind;
}

describe("WindowLimiter", () => {
  it("admits the limit across isolates, each at most its share ahead, then refuses until the window ends", async () => {
    const flush = cluster();
    const clock = fakeClock(START + 15_000);
    const isolates = [1, 2, 3].map(() => isolate(flush, clock.now, 20));
    let admitted = 0;
    for (let round = 0; round < 10; round++) {
      for (const { limiter } of isolates) {
        for (let i = 0; i < 10; i++) if (fail(limiter, "client", clock.now()) === "admit") admitted++;
      }
      for (const { counters } of isolates) await counters.flush();
    }
    // At most limit - 1 + isolates x share (20 - 1 + 3 x 2), and the whole limit.
    expect(admitted).toBeGreaterThanOrEqual(20);
    expect(admitted).toBeLessThanOrEqual(25);
    const refused = isolates[0].limiter.acquire("client", clock.now());
    expect(refused).toEqual({ kind: "refuse", reason: "limit", retryAfterSeconds: 45, counted: expect.any(Number) });
    clock.advance(45_000);
    expect(isolates[0].limiter.acquire("client", clock.now()).kind).toBe("admit");
  });

  it("makes attempts made at once wait for the ones under way, and frees what did not count", async () => {
    const clock = fakeClock(START);
    const { limiter } = isolate(cluster(), clock.now, 20); // share 2
    const first = limiter.acquire("c", clock.now());
    const second = limiter.acquire("c", clock.now());
    const third = limiter.acquire("c", clock.now());
    expect([first.kind, second.kind, third.kind]).toEqual(["admit", "admit", "wait"]);
    let woken = false;
    if (third.kind === "wait") void third.until.then(() => (woken = true));
    if (first.kind === "admit") limiter.release(first.ticket, false, clock.now()); // found a key: costs nothing
    await Promise.resolve();
    expect(woken).toBe(true);
    expect(limiter.acquire("c", clock.now()).kind).toBe("admit");
  });

  it("wakes one waiter per attempt that ends, and every waiter once none is under way", async () => {
    const clock = fakeClock(START);
    const { limiter } = isolate(cluster(), clock.now, 20); // share 2
    const admitted = [limiter.acquire("c", clock.now()), limiter.acquire("c", clock.now())];
    const woken: number[] = [];
    for (let i = 0; i < 4; i++) {
      const waiting = limiter.acquire("c", clock.now());
      expect(waiting.kind).toBe("wait");
      if (waiting.kind === "wait") void waiting.until.then(() => woken.push(i));
    }
    const [first, second] = admitted.map((a) => (a.kind === "admit" ? a.ticket : null));
    limiter.release(first!, true, clock.now()); // counted: one still under way
    await Promise.resolve();
    expect(woken).toEqual([0]);
    limiter.release(second!, true, clock.now()); // none under way: the rest decide (the share is spent: wait for a flush)
    await Promise.resolve();
    expect(woken).toEqual([0, 1, 2, 3]);
    expect(limiter.acquire("c", clock.now())).toMatchObject({ kind: "wait" });
  });

  it("keeps other keys apart", () => {
    const clock = fakeClock(START);
    const { limiter } = isolate(cluster(), clock.now, 1);
    expect(fail(limiter, "a", clock.now())).toBe("admit");
    expect(fail(limiter, "a", clock.now())).toBe("refuse");
    expect(fail(limiter, "b", clock.now())).toBe("admit");
  });

  it("fails closed when its store is full: new keys share one overflow budget, and no count is evicted", async () => {
    const clock = fakeClock(START);
    const { limiter, counters } = isolate(cluster(), clock.now, 1, 3);
    for (const key of ["a", "b", "c"]) expect(fail(limiter, key, clock.now())).toBe("admit");
    // An attacker cycling through addresses: one read among all of them, and "a" stays refused.
    const churn = Array.from({ length: 50 }, (_, i) => fail(limiter, `x${i}`, clock.now()));
    expect(churn.filter((k) => k === "admit")).toHaveLength(1);
    expect(fail(limiter, "a", clock.now())).toBe("refuse");
    expect(counters.size).toBe(4); // three clients and the overflow bucket
    expect(limiter.bucketOf("x1", clock.now())).toBe("t:*");
    // A new window frees the room (once the old one's counts are flushed): new clients get their own budgets again.
    await counters.flush();
    clock.advance(60_000);
    expect(fail(limiter, "x1", clock.now())).toBe("admit");
    expect(limiter.bucketOf("x1", clock.now())).toBe("t:x1");
  });

  it("counts without reserving when the attempt is known to count", () => {
    const clock = fakeClock(START);
    const { limiter } = isolate(cluster(), clock.now, 2);
    expect(limiter.check("acct", clock.now()).kind).toBe("admit");
    limiter.count("acct", clock.now());
    expect(limiter.check("acct", clock.now())).toMatchObject({ kind: "refuse", reason: "share" });
  });
});
