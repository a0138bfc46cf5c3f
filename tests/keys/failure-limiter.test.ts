import { describe, expect, it } from "vitest";
import { FailureLimiter } from "../../functions/_shared/keys/failure-limiter.ts";

/** One failed read: allowed, then charged. */
function fail(limiter: FailureLimiter, client: string, now: number): boolean {
  if (!limiter.check(client, now).allowed) return false;
  limiter.charge(client, now);
  return true;
}

describe("FailureLimiter", () => {
  it("allows perMinute failures, then refuses with the wait until the next one", () => {
    const limiter = new FailureLimiter(6);
    for (let i = 0; i < 6; i++) expect(fail(limiter, "198.51.100.7", 0)).toBe(true);
    expect(limiter.check("198.51.100.7", 0)).toEqual({ allowed: false, retryAfterSeconds: 10 });
    expect(limiter.check("198.51.100.7", 9_999).allowed).toBe(false);
    expect(limiter.check("198.51.100.7", 10_000).allowed).toBe(true);
  });

  it("keeps clients apart", () => {
    const limiter = new FailureLimiter(1);
    expect(fail(limiter, "a", 0)).toBe(true);
    expect(fail(limiter, "a", 0)).toBe(false);
    expect(fail(limiter, "b", 0)).toBe(true);
  });

  it("spends nothing on checks alone (reads that found a live key), however many at once", () => {
    const limiter = new FailureLimiter(2);
    for (let i = 0; i < 100; i++) expect(limiter.check("a", 0).allowed).toBe(true);
    expect(limiter.size).toBe(0);
  });

  it("charges reads already under way as debt, at most a minute's worth", () => {
    const limiter = new FailureLimiter(6);
    for (let i = 0; i < 6; i++) expect(limiter.check("a", 0).allowed).toBe(true);
    for (let i = 0; i < 100; i++) limiter.charge("a", 0); // all six and more came back empty
    expect(limiter.check("a", 0)).toEqual({ allowed: false, retryAfterSeconds: 70 });
    expect(limiter.check("a", 70_000).allowed).toBe(true);
  });

  it("never saves up more than perMinute", () => {
    const limiter = new FailureLimiter(3);
    fail(limiter, "a", 0);
    for (let i = 0; i < 3; i++) expect(fail(limiter, "a", 3_600_000)).toBe(true);
    expect(fail(limiter, "a", 3_600_000)).toBe(false);
  });

  it("limits nothing without an address, or when turned off", () => {
    const limiter = new FailureLimiter(1);
    for (let i = 0; i < 5; i++) expect(fail(limiter, null as never, 0)).toBe(true);
    const off = new FailureLimiter(0);
    for (let i = 0; i < 5; i++) expect(fail(off, "a", 0)).toBe(true);
  });

  it("holds at most maxClients, forgetting the least recently charged", () => {
    const limiter = new FailureLimiter(1, 3);
    for (const c of ["a", "b", "c", "d"]) fail(limiter, c, 0);
    expect(limiter.size).toBe(3);
    expect(limiter.check("a", 0).allowed).toBe(true); // forgotten, so fresh
    expect(limiter.check("d", 0).allowed).toBe(false);
  });
});
