import { describe, expect, it } from "vitest";
import { FailureLimiter } from "../../functions/_shared/keys/failure-limiter.ts";

describe("FailureLimiter", () => {
  it("allows perMinute failures, then refuses with the wait until the next one", () => {
    const limiter = new FailureLimiter(6);
    for (let i = 0; i < 6; i++) expect(limiter.take("198.51.100.7", 0).allowed).toBe(true);
    expect(limiter.take("198.51.100.7", 0)).toEqual({ allowed: false, retryAfterSeconds: 10 });
    expect(limiter.take("198.51.100.7", 9_999).allowed).toBe(false);
    expect(limiter.take("198.51.100.7", 10_000).allowed).toBe(true);
  });

  it("keeps clients apart", () => {
    const limiter = new FailureLimiter(1);
    expect(limiter.take("a", 0).allowed).toBe(true);
    expect(limiter.take("a", 0).allowed).toBe(false);
    expect(limiter.take("b", 0).allowed).toBe(true);
  });

  it("gives a token back when the read found a live key, so only failures spend the budget", () => {
    const limiter = new FailureLimiter(2);
    for (let i = 0; i < 10; i++) {
      expect(limiter.take("a", 0).allowed).toBe(true);
      limiter.giveBack("a", 0);
    }
    expect(limiter.size).toBe(0);
  });

  it("never saves up more than perMinute", () => {
    const limiter = new FailureLimiter(3);
    limiter.take("a", 0);
    for (let i = 0; i < 3; i++) expect(limiter.take("a", 3_600_000).allowed).toBe(true);
    expect(limiter.take("a", 3_600_000).allowed).toBe(false);
  });

  it("limits nothing without an address, or when turned off", () => {
    const limiter = new FailureLimiter(1);
    for (let i = 0; i < 5; i++) expect(limiter.take(null, 0).allowed).toBe(true);
    const off = new FailureLimiter(0);
    for (let i = 0; i < 5; i++) expect(off.take("a", 0).allowed).toBe(true);
  });

  it("holds at most maxClients, forgetting the least recently seen", () => {
    const limiter = new FailureLimiter(1, 3);
    for (const c of ["a", "b", "c", "d"]) limiter.take(c, 0);
    expect(limiter.size).toBe(3);
    expect(limiter.take("a", 0).allowed).toBe(true); // forgotten, so fresh
    expect(limiter.take("d", 0).allowed).toBe(false);
  });
});
