/**
 * The jobs function's pure parts, without a server: why a transition was
 * refused, the cursor, the field caps, body and query parsing, the settings, and
 * how the Jobs view words progress.
 */
import { describe, expect, it } from "vitest";
import { loadJobSettings } from "../../functions/_shared/config/config.ts";
import { DEFAULT_JOB_SETTINGS } from "../../functions/_shared/config/defaults.ts";
import { decodeCursor, encodeCursor } from "../../functions/_shared/handlers/jobs/cursor.ts";
import { transitionRefusal } from "../../functions/_shared/handlers/jobs/refusal.ts";
import {
  assertFieldSize,
  createBody,
  idempotencyKey,
  parseListQuery,
  parseRunAt,
} from "../../functions/_shared/handlers/jobs/schemas.ts";
import { describeProgress } from "../../web/words.js";

const code = (fn: () => unknown) => {
  try {
    fn();
    return null;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe("transitionRefusal", () => {
  const running = { status: "running" as const, claimed_by_key_id: "k1", attempts: 2 };

  it("names each reason a transition did not apply", () => {
    expect(transitionRefusal(undefined, "complete", { keyId: "k1" }).code).toBe("not_found");
    expect(transitionRefusal({ ...running, status: "queued" }, "heartbeat", { keyId: "k1" }).code).toBe(
      "job_not_running",
    );
    expect(transitionRefusal({ ...running, status: "canceled" }, "fail", { keyId: "k1" }).message).toContain(
      "canceled",
    );
    expect(transitionRefusal(running, "complete", { keyId: "k2" }).code).toBe("lease_not_held");
    expect(transitionRefusal(running, "complete", { keyId: "k1", attempt: 1 }).code).toBe("lease_not_held");
    expect(transitionRefusal({ ...running, status: "succeeded" }, "cancel", { keyId: "k1" }).code).toBe(
      "job_already_finished",
    );
    expect(transitionRefusal(running, "complete", { keyId: "k1", attempt: 2 }).code).toBe("conflict");
    expect(transitionRefusal(running, "cancel", { keyId: "k9" }).status).toBe(409);
  });
});

describe("the list cursor", () => {
  it("round-trips a position and refuses anything it did not give out", () => {
    const cursor = { createdUs: "1796000000123456", id: "0b9c7d1e-6a3f-4c55-9e2b-2f1a7c3d4e5f" };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    for (const bad of ["", "nope!", btoa("123.not-a-uuid"), btoa(`x.${cursor.id}`), "A".repeat(101)]) {
      expect(
        code(() => decodeCursor(bad)),
        bad,
      ).toBe("validation_failed");
    }
  });
});

describe("field caps and parsing", () => {
  it("caps each free-form field by its UTF-8 bytes", () => {
    expect(code(() => assertFieldSize("payload", { s: "y".repeat(8 * 1024 - 10) }))).toBeNull();
    expect(code(() => assertFieldSize("payload", { s: "y".repeat(8 * 1024) }))).toBe("payload_too_large");
    expect(code(() => assertFieldSize("error", "é".repeat(1001)))).toBe("payload_too_large");
    expect(code(() => assertFieldSize("error", "e".repeat(2000)))).toBeNull();
    expect(code(() => assertFieldSize("progress", undefined))).toBeNull();
  });

  it("passes a payload on as parsed, own __proto__ and constructor keys included, and takes only an object", () => {
    const payload = JSON.parse('{"__proto__": {"polluted": true}, "constructor": 1, "a": [0.1]}');
    const body = createBody.parse({ type: "x", payload });
    expect(body.payload).toBe(payload);
    expect(Object.keys(body.payload ?? {})).toEqual(["__proto__", "constructor", "a"]);
    for (const bad of [[1], "s", null, 1])
      expect(createBody.safeParse({ type: "x", payload: bad }).success).toBe(false);
  });

  it("reads the list query and refuses what it does not know", () => {
    expect(parseListQuery(new URL("http://x/jobs"))).toEqual({ status: null, type: null, cursor: null, limit: 50 });
    expect(parseListQuery(new URL("http://x/jobs?status=failed&type=a.b&limit=5&other=1"))).toMatchObject({
      status: "failed",
      type: "a.b",
      limit: 5,
    });
    for (const q of ["status=cancelled", "type=", "limit=101", "limit=2.5"]) {
      expect(
        code(() => parseListQuery(new URL(`http://x/jobs?${q}`))),
        q,
      ).toBe("validation_failed");
    }
  });

  it("takes a run_at up to a year ahead and a visible-ASCII Idempotency-Key", () => {
    const now = Date.parse("2026-11-29T00:00:00Z");
    expect(parseRunAt("2027-11-28T00:00:00Z", now)?.toISOString()).toBe("2027-11-28T00:00:00.000Z");
    expect(code(() => parseRunAt("2027-11-30T00:00:00Z", now))).toBe("validation_failed");
    expect(parseRunAt(undefined, now)).toBeNull();
    const req = (value?: string) =>
      new Request("http://x/jobs", { headers: value === undefined ? {} : { "idempotency-key": value } });
    expect(idempotencyKey(req())).toBeNull();
    expect(idempotencyKey(req("order-17"))).toBe("order-17");
    expect(code(() => idempotencyKey(req("has space")))).toBe("validation_failed");
  });
});

describe("loadJobSettings", () => {
  it("has defaults and refuses values out of range", () => {
    expect(loadJobSettings({})).toEqual(DEFAULT_JOB_SETTINGS);
    expect(loadJobSettings({ JOBS_RETENTION_DAYS: "30" }).retentionDays).toBe(30);
    expect(() => loadJobSettings({ JOBS_RETENTION_DAYS: "0" })).toThrow(/JOBS_RETENTION_DAYS/);
    expect(() => loadJobSettings({ JOBS_CREATE_PER_MINUTE: "many" })).toThrow(/JOBS_CREATE_PER_MINUTE/);
    expect(() => loadJobSettings({ JOBS_RETRY_BASE_SECONDS: "100", JOBS_RETRY_MAX_SECONDS: "10" })).toThrow(
      /JOBS_RETRY_MAX_SECONDS/,
    );
  });
});

describe("words", () => {
  it("words progress for the Jobs view", () => {
    expect(describeProgress(null)).toBe("—");
    expect(describeProgress({ done: 3, total: 10 })).toBe("3 / 10");
    expect(describeProgress(42)).toBe("42");
    expect(describeProgress("halfway")).toBe("halfway");
    expect(describeProgress({ stage: "x".repeat(100) })).toHaveLength(60);
  });
});
