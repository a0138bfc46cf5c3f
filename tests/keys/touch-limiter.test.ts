import { describe, expect, it } from "vitest";
import { TouchLimiter } from "../../functions/_shared/keys/touch-limiter.ts";

describe("TouchLimiter", () => {
  it("touches a never-used key once, then not again within a minute", () => {
    const limiter = new TouchLimiter();
    expect(limiter.shouldTouch("k", null, 0)).toBe(true);
    expect(limiter.shouldTouch("k", null, 59_999)).toBe(false);
    expect(limiter.shouldTouch("k", null, 60_000)).toBe(true);
  });

  it("does not touch a key the database says was used within the minute", () => {
    const limiter = new TouchLimiter();
    expect(limiter.shouldTouch("k", 100_000, 159_999)).toBe(false);
    expect(limiter.shouldTouch("k", 100_000, 160_000)).toBe(true);
  });

  it("keeps keys apart and stays bounded", () => {
    const limiter = new TouchLimiter(2);
    expect(limiter.shouldTouch("a", null, 0)).toBe(true);
    expect(limiter.shouldTouch("b", null, 0)).toBe(true);
    expect(limiter.shouldTouch("c", null, 0)).toBe(true); // evicts "a"
    expect(limiter.shouldTouch("a", null, 1)).toBe(true);
    expect(limiter.shouldTouch("c", null, 1)).toBe(false);
  });
});
