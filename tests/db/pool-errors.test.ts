import { describe, expect, it } from "vitest";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { jitteredRetryAfter } from "../../functions/_shared/core/retry-after.ts";
import { poolSettingsFor } from "../../functions/_shared/db/db.ts";
import { mapDbError } from "../../functions/_shared/db/errors.ts";

function pgError(code: string, message = "x"): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

describe("database and pooler failures", () => {
  it("answers what a transaction pooler or a full database causes with a 503 and a Retry-After, never a 500", () => {
    const failures = [
      pgError("26000", 'prepared statement "kg_verify_api_key" does not exist'),
      pgError("42P05", 'prepared statement "kg_verify_api_key" already exists'),
      pgError("53300", "sorry, too many clients already"),
      pgError("53300", "remaining connection slots are reserved for non-replication superuser connections"),
      pgError("08P01", "no more connections allowed (max_client_conn)"),
      pgError("08P01", "query_wait_timeout"),
      pgError("08P01", "server login has been failing, try again later (server_login_retry)"),
      pgError("57P01", "terminating connection due to administrator command"),
      new Error("timeout exceeded when trying to connect"),
      new Error("Query read timeout"),
      new Error("timeout expired"),
      new Error("Connection terminated unexpectedly"),
    ];
    for (const failure of failures) {
      const mapped = mapDbError(failure);
      expect(mapped, failure.message).toBeInstanceOf(KeygateError);
      const err = mapped as KeygateError;
      expect(err.status).toBe(503);
      expect(err.code).toBe("service_unavailable");
      expect(err.headers["retry-after"]).toMatch(/^[1-5]$/);
      expect(err.message).not.toContain(failure.message);
    }
  });

  it("keeps a real bug a bug (a 500 later), not an outage", () => {
    const bug = pgError("42703", 'column "nope" does not exist');
    expect(mapDbError(bug)).toBe(bug);
  });

  it("spreads Retry-After over 1 to 5 seconds so refused clients do not return together", () => {
    expect(jitteredRetryAfter(() => 0)).toBe("1");
    expect(jitteredRetryAfter(() => 0.999999)).toBe("5");
    expect(jitteredRetryAfter(() => 0.5)).toBe("3");
    const seen = new Set(Array.from({ length: 200 }, () => jitteredRetryAfter()));
    expect([...seen].every((s) => /^[1-5]$/.test(s))).toBe(true);
    expect(seen.size).toBeGreaterThan(2);
  });

  it("gives each function's pool the documented budget: 4 connections, 5 s idle, 5 s wait, 10 s per query", () => {
    // How the pool keeps each limit is tested against a real Postgres in db-pool.test.ts.
    const { limits } = poolSettingsFor("postgresql://postgres@127.0.0.1/postgres");
    expect(limits).toEqual({ max: 4, idleMs: 5_000, waitMs: 5_000, queryTimeoutMs: 10_000 });
  });
});
