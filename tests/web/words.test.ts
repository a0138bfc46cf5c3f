/**
 * What the dashboard says (web/words.js): error codes in words, key statuses
 * and the curl lines, without a browser.
 */
import { describe, expect, it } from "vitest";
import { curlExamples, describeError, describeLoginError, initials, keyStatus, statusLabel } from "../../web/words.js";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const key = {
  id: "k1",
  name: "job",
  start: "kg_abcdefg",
  scopes: ["jobs:read"],
  created_at: "2026-02-01T00:00:00Z",
  last_used_at: null,
  expires_at: null as string | null,
  revoked_at: null as string | null,
};

describe("error words", () => {
  it("explains an expired sign-in the way a person says it", () => {
    expect(describeLoginError("login_expired")).toBe("That sign-in link expired, please try again.");
  });

  it.each(["email_unverified", "user_inactive", "access_denied", "provider_error", "state_mismatch"])(
    "has its own sentence for the sign-in failure %s",
    (code) => {
      expect(describeLoginError(code)).not.toBe(describeLoginError("something_new"));
    },
  );

  it("falls back to a generic sentence for an unknown sign-in error, never echoing the code", () => {
    expect(describeLoginError("<script>")).toBe("Sign-in didn't complete. Please try again.");
  });

  it("explains the key limit and the rate limit", () => {
    expect(describeError("key_limit_reached")).toMatch(/Revoke one/);
    expect(describeError("rate_limited")).toMatch(/wait a minute/);
  });

  it("shows the server's message only for form validation", () => {
    expect(describeError("validation_failed", "name: too long")).toBe("Please check the form: name: too long");
    expect(describeError("internal_error", "stack trace here")).not.toContain("stack trace");
    expect(describeError(undefined, "raw")).toBe("Something went wrong. Please try again.");
  });
});

describe("key status", () => {
  it("is active without revocation or expiry", () => {
    expect(keyStatus(key, NOW)).toEqual({ kind: "active" });
  });

  it("is expired once expires_at has passed", () => {
    expect(keyStatus({ ...key, expires_at: "2026-03-01T11:59:59Z" }, NOW)).toEqual({ kind: "expired" });
    expect(keyStatus({ ...key, expires_at: "2026-03-02T00:00:00Z" }, NOW)).toEqual({ kind: "active" });
  });

  it("is revoked once revoked_at has passed", () => {
    expect(keyStatus({ ...key, revoked_at: "2026-03-01T12:00:00Z" }, NOW)).toEqual({ kind: "revoked" });
  });

  it("is rotating while a future revocation (a rotation's grace period) runs", () => {
    const status = keyStatus({ ...key, revoked_at: "2026-03-01T13:00:00Z" }, NOW);
    expect(status).toEqual({ kind: "rotating", until: "2026-03-01T13:00:00Z" });
    expect(statusLabel(status, () => "1 Mar, 13:00")).toBe("Rotating: works until 1 Mar, 13:00");
  });
});

describe("curl lines", () => {
  it("list and submit jobs with the key in x-api-key", () => {
    const { list, submit } = curlExamples("http://127.0.0.1:54321/functions/v1", "kg_KEY");
    expect(list).toBe('curl -H "x-api-key: kg_KEY" http://127.0.0.1:54321/functions/v1/jobs');
    expect(submit).toMatch(
      /^curl -X POST -H "x-api-key: kg_KEY" -H "content-type: application\/json" -d '\{.*\}' http:\/\/127\.0\.0\.1:54321\/functions\/v1\/jobs$/,
    );
    expect(JSON.parse(/-d '(.*)'/.exec(submit)![1])).toMatchObject({ type: "hello" });
  });
});

describe("initials", () => {
  it("takes up to two initials from the name, else the email", () => {
    expect(initials("Grace Brewster Hopper", "g@x.io")).toBe("GB");
    expect(initials(null, "ada@example.com")).toBe("A");
  });
});
