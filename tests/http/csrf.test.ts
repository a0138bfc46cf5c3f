import { describe, expect, it } from "vitest";
import { KeygateError } from "../../functions/_shared/core/errors.ts";
import { assertAllowedOrigin } from "../../functions/_shared/http/csrf.ts";

const allowed = ["http://127.0.0.1:54321"];
const req = (method: string, headers: Record<string, string> = {}) =>
  new Request("http://127.0.0.1:54321/x", { method, headers });

function refusal(fn: () => void): KeygateError | undefined {
  try {
    fn();
  } catch (err) {
    return err as KeygateError;
  }
  return undefined;
}

describe("assertAllowedOrigin", () => {
  it("accepts an allowed Origin, or an allowed Referer when Origin is absent", () => {
    expect(refusal(() => assertAllowedOrigin(req("POST", { origin: allowed[0] }), allowed))).toBeUndefined();
    expect(
      refusal(() => assertAllowedOrigin(req("DELETE", { referer: `${allowed[0]}/page?x=1` }), allowed)),
    ).toBeUndefined();
  });

  it("refuses a missing, null, foreign or look-alike origin with 403 csrf_origin_mismatch", () => {
    const shapes: Record<string, string>[] = [
      {},
      { origin: "null" },
      { origin: "https://evil.example" },
      { origin: "http://127.0.0.1:54322" },
      { origin: "http://127.0.0.1:54321.evil.example" },
      { referer: "https://evil.example/http://127.0.0.1:54321/" },
      { referer: "not a url" },
      // A foreign Origin is not excused by an allowed Referer.
      { origin: "https://evil.example", referer: `${allowed[0]}/` },
    ];
    for (const headers of shapes) {
      for (const method of ["POST", "DELETE", "PUT", "PATCH"]) {
        const err = refusal(() => assertAllowedOrigin(req(method, headers), allowed));
        expect(err, JSON.stringify(headers)).toBeInstanceOf(KeygateError);
        expect(err!.status).toBe(403);
        expect(err!.code).toBe("csrf_origin_mismatch");
      }
    }
  });
});
