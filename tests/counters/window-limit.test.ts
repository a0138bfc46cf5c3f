import { describe, expect, it } from "vitest";
import { decideWindowLimit, shareOf, type WindowLimitState } from "../../functions/_shared/counters/window-limit.ts";

const policy = { limit: 20, share: 2, maxWaiting: 3 };
const NOW = 1_000_000;

function state(fields: Partial<WindowLimitState> = {}): WindowLimitState {
  return {
    known: 0,
    unsynced: 0,
    reserved: 0,
    waiting: 0,
    windowEndsAt: NOW + 45_000,
    reachable: true,
    nextFlushAt: null,
    ...fields,
  };
}

describe("shareOf", () => {
  it("is a tenth of the limit, rounded up, and at least one", () => {
    expect([1, 9, 10, 11, 60, 1000].map(shareOf)).toEqual([1, 1, 1, 2, 6, 100]);
  });
});

describe("decideWindowLimit", () => {
  it("admits a cold isolate (nothing known) up to its share, then makes it wait for the next flush's answer", () => {
    expect(decideWindowLimit(state(), policy, NOW).kind).toBe("admit");
    expect(decideWindowLimit(state({ unsynced: 1 }), policy, NOW).kind).toBe("admit");
    expect(decideWindowLimit(state({ unsynced: 2, nextFlushAt: NOW + 1500 }), policy, NOW)).toEqual({
      kind: "wait",
      on: "flush",
    });
    // Past maxWaiting, refused until about a second after that flush starts.
    expect(decideWindowLimit(state({ unsynced: 2, waiting: 3, nextFlushAt: NOW + 1500 }), policy, NOW)).toEqual({
      kind: "refuse",
      reason: "share",
      retryAfterSeconds: 3,
    });
  });

  it("refuses once the cluster total and this isolate's counts reach the limit, until the window ends", () => {
    expect(decideWindowLimit(state({ known: 19 }), policy, NOW).kind).toBe("admit");
    expect(decideWindowLimit(state({ known: 19, unsynced: 1 }), policy, NOW)).toEqual({
      kind: "refuse",
      reason: "limit",
      retryAfterSeconds: 45,
    });
    expect(decideWindowLimit(state({ known: 25, windowEndsAt: NOW + 100 }), policy, NOW)).toEqual({
      kind: "refuse",
      reason: "limit",
      retryAfterSeconds: 1,
    });
  });

  it("makes an attempt wait for the ones under way that may use the rest, and refuses past maxWaiting", () => {
    expect(decideWindowLimit(state({ reserved: 1 }), policy, NOW).kind).toBe("admit");
    expect(decideWindowLimit(state({ unsynced: 1, reserved: 1 }), policy, NOW)).toEqual({
      kind: "wait",
      on: "release",
    });
    expect(decideWindowLimit(state({ known: 18, reserved: 2 }), policy, NOW)).toEqual({ kind: "wait", on: "release" });
    expect(decideWindowLimit(state({ reserved: 2, waiting: 3 }), policy, NOW)).toEqual({
      kind: "refuse",
      reason: "share",
      retryAfterSeconds: 1,
    });
  });

  it("holds the limit on this isolate's own counts, without a share, while the cluster is unreachable", () => {
    const down = { reachable: false };
    expect(decideWindowLimit(state({ ...down, unsynced: 19 }), policy, NOW).kind).toBe("admit");
    expect(decideWindowLimit(state({ ...down, unsynced: 18, reserved: 2 }), policy, NOW).kind).toBe("wait");
    expect(decideWindowLimit(state({ ...down, known: 4, unsynced: 16 }), policy, NOW)).toMatchObject({
      kind: "refuse",
      reason: "limit",
    });
  });
});
