import { describe, expect, it } from "vitest";
import { VerifyCache } from "../../functions/_shared/keys/verify-cache.ts";
import { fakeClock } from "../helpers/fake-clock.ts";

const clock = () => fakeClock(1_000_000);

describe("VerifyCache", () => {
  it("serves an entry until its TTL and not a millisecond after", () => {
    const c = clock();
    const cache = new VerifyCache<string>({ ttlMs: 5000, maxEntries: 10, now: c.now });
    cache.set("a", "A", null);
    c.advance(4999);
    expect(cache.get("a")).toBe("A");
    c.advance(1);
    expect(cache.get("a")).toBeUndefined();
  });

  it("never serves an entry past the key's own end of validity", () => {
    const c = clock();
    const cache = new VerifyCache<string>({ ttlMs: 5000, maxEntries: 10, now: c.now });
    cache.set("grace", "G", c.now() + 1200);
    c.advance(1199);
    expect(cache.get("grace")).toBe("G");
    c.advance(1);
    expect(cache.get("grace")).toBeUndefined();
    cache.set("gone", "X", c.now());
    expect(cache.get("gone")).toBeUndefined();
  });

  it("counts the lifetime from when the read started, and stores nothing older than the TTL", () => {
    const c = clock();
    const cache = new VerifyCache<string>({ ttlMs: 5000, maxEntries: 10, now: c.now });
    const readAt = c.now();
    c.advance(3000);
    cache.set("slow", "S", null, readAt);
    c.advance(1999);
    expect(cache.get("slow")).toBe("S");
    c.advance(1);
    expect(cache.get("slow")).toBeUndefined();
    const stale = c.now();
    c.advance(5000);
    cache.set("stale", "X", null, stale);
    expect(cache.size).toBe(0);
  });

  it("holds at most maxEntries, dropping the oldest", () => {
    const c = clock();
    const cache = new VerifyCache<number>({ ttlMs: 5000, maxEntries: 3, now: c.now });
    for (let i = 0; i < 10; i++) cache.set(`k${i}`, i, null);
    expect(cache.size).toBe(3);
    expect(cache.get("k6")).toBeUndefined();
    expect([cache.get("k7"), cache.get("k8"), cache.get("k9")]).toEqual([7, 8, 9]);
  });

  it("stores nothing when turned off", () => {
    const cache = new VerifyCache<number>({ ttlMs: 0, maxEntries: 3, now: () => 0 });
    cache.set("a", 1, null);
    expect(cache.get("a")).toBeUndefined();
  });

  it("refuses a TTL above 10 seconds", () => {
    expect(() => new VerifyCache({ ttlMs: 10_001, maxEntries: 1, now: Date.now })).toThrow(RangeError);
  });
});
