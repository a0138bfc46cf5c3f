import { describe, expect, it } from "vitest";
import {
  type CounterIncrement,
  type CounterTotal,
  SharedCounters,
} from "../../functions/_shared/counters/shared-counters.ts";
import { fakeClock } from "../helpers/fake-clock.ts";

const MINUTE = { seconds: 60, keepSeconds: 60 };
/** A minute's start, so a test's clock stays inside one window. */
const START = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;

/** A cluster in memory: every flush adds to the same totals, as the table does. */
function cluster() {
  const totals = new Map<string, number>();
  const flushes: CounterIncrement[][] = [];
  let failing = false;
  const flush = async (batch: readonly CounterIncrement[]): Promise<CounterTotal[]> => {
    flushes.push([...batch]);
    if (failing) throw Object.assign(new Error("down"), { code: "service_unavailable" });
    return batch.map((i) => {
      const key = `${i.bucket}/${i.windowSeconds}/${i.windowStart}`;
      const total = (totals.get(key) ?? 0) + i.increment;
      totals.set(key, total);
      return { bucket: i.bucket, windowSeconds: i.windowSeconds, windowStart: i.windowStart, total };
    });
  };
  return {
    flush,
    flushes,
    setFailing: (value: boolean) => {
      failing = value;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("SharedCounters", () => {
  it("counts a burst in memory and adds it to the cluster in one flush", async () => {
    const c = cluster();
    const clock = fakeClock(START);
    const counters = new SharedCounters({ flush: c.flush, now: clock.now });
    for (let i = 0; i < 1000; i++) counters.add("a", MINUTE);
    expect(counters.view("a", MINUTE)).toEqual({ known: 0, unsynced: 1000 });
    await counters.flush();
    expect(c.flushes).toEqual([
      [{ bucket: "a", windowSeconds: 60, windowStart: START / 1000, increment: 1000, keepSeconds: 60 }],
    ]);
    expect(counters.view("a", MINUTE)).toEqual({ known: 1000, unsynced: 0 });
  });

  it("sees the cluster total, its own counts on top, and nothing of another window", async () => {
    const c = cluster();
    const clock = fakeClock(START);
    const one = new SharedCounters({ flush: c.flush, now: clock.now });
    const two = new SharedCounters({ flush: c.flush, now: clock.now });
    one.add("a", MINUTE, 3);
    await one.flush();
    two.add("a", MINUTE, 2);
    await two.flush();
    one.add("a", MINUTE);
    expect(one.view("a", MINUTE)).toEqual({ known: 3, unsynced: 1 });
    expect(two.view("a", MINUTE)).toEqual({ known: 5, unsynced: 0 });
    await one.flush();
    expect(one.view("a", MINUTE)).toEqual({ known: 6, unsynced: 0 });
    clock.advance(60_000);
    expect(one.view("a", MINUTE)).toBeUndefined();
  });

  it("flushes at most once an interval while counts keep coming, and not at all when idle", async () => {
    const c = cluster();
    const times: number[] = [];
    const counters = new SharedCounters({
      flush: (batch) => {
        times.push(Date.now());
        return c.flush(batch);
      },
      intervalMs: 100,
    });
    const started = Date.now();
    for (let i = 0; i < 40; i++) {
      counters.add("a", MINUTE);
      await sleep(10);
    }
    const elapsed = Date.now() - started;
    await sleep(150);
    const settled = times.length;
    // The first flush starts at once; then one per interval at most.
    expect(settled).toBeGreaterThanOrEqual(2);
    expect(settled).toBeLessThanOrEqual(Math.floor(elapsed / 100) + 2);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(95);
    expect(counters.view("a", MINUTE)?.known).toBe(40);
    // Idle: no timer, nothing more.
    expect(counters.nextFlushAt()).toBeNull();
    await sleep(300);
    expect(times.length).toBe(settled);
  });

  it("keeps the counts of a failed flush for the next one, and says the cluster is unreachable until then", async () => {
    const c = cluster();
    const logs: unknown[] = [];
    const clock = fakeClock(START);
    const counters = new SharedCounters({ flush: c.flush, now: clock.now, log: (m, f) => logs.push([m, f]) });
    c.setFailing(true);
    counters.add("a", MINUTE, 2);
    await counters.flush();
    counters.add("a", MINUTE);
    await counters.flush();
    expect(counters.reachable).toBe(false);
    expect(counters.view("a", MINUTE)).toEqual({ known: 0, unsynced: 3 });
    expect(logs).toEqual([[expect.stringContaining("not flushed"), { name: "Error", code: "service_unavailable" }]]);
    c.setFailing(false);
    await counters.flush();
    expect(counters.reachable).toBe(true);
    expect(counters.view("a", MINUTE)).toEqual({ known: 3, unsynced: 0 });
    expect(c.flushes.map((b) => b[0].increment)).toEqual([2, 3, 3]);
  });

  it("drops counts that outlived their row while the cluster was unreachable", async () => {
    const c = cluster();
    const clock = fakeClock(START);
    const counters = new SharedCounters({ flush: c.flush, now: clock.now, log: () => {} });
    c.setFailing(true);
    counters.add("a", MINUTE);
    await counters.flush();
    clock.advance(120_000); // the window's end plus its minute of keeping
    c.setFailing(false);
    await counters.flush();
    expect(c.flushes).toHaveLength(1);
    expect(counters.size).toBe(0);
  });

  it("hands every scheduled flush to waitUntil, settled once the flush is done", async () => {
    const c = cluster();
    const handed: Promise<unknown>[] = [];
    const counters = new SharedCounters({ flush: c.flush, intervalMs: 10, waitUntil: (t) => void handed.push(t) });
    counters.add("a", MINUTE);
    counters.add("b", MINUTE);
    expect(handed).toHaveLength(1);
    await handed[0];
    expect(c.flushes).toEqual([[expect.objectContaining({ bucket: "a" }), expect.objectContaining({ bucket: "b" })]]);
  });

  it("never evicts a running window's count: when full it refuses new buckets, and frees ended windows", async () => {
    const c = cluster();
    const clock = fakeClock(START);
    const counters = new SharedCounters({ flush: c.flush, now: clock.now, maxEntries: 2 });
    expect(counters.add("a", MINUTE)).toBe(true);
    expect(counters.add("b", MINUTE)).toBe(true);
    expect(counters.add("c", MINUTE)).toBe(false);
    expect(counters.accepts("c", MINUTE)).toBe(false);
    expect(counters.add("a", MINUTE)).toBe(true); // held: still counted
    expect(counters.add("c", MINUTE, 1, { always: true })).toBe(true);
    expect(counters.view("a", MINUTE)).toEqual({ known: 0, unsynced: 2 });
    await counters.flush();
    // Flushed but its window still runs: kept.
    expect(counters.accepts("d", MINUTE)).toBe(false);
    clock.advance(60_000);
    expect(counters.accepts("d", MINUTE)).toBe(true);
    expect(counters.size).toBe(0);
  });
});
