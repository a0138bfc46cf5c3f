import { describe, expect, it } from "vitest";
import { KeygateError } from "../../functions/_shared/errors.ts";
import { assertAllowedOrigin } from "../../functions/_shared/keys/csrf.ts";
import { presentedKey } from "../../functions/_shared/keys/presented-key.ts";

const allowed = ["http://127.0.0.1:54321"];
const req = (method: string, headers: Record<string, string> = {}) => new Request("http://127.0.0.1:54321/x", { method, headers });

describe("assertAllowedOrigin", () => {
  it("lets safe methods and bearer-authenticated requests through", () => {
    expect(() => assertAllowedOrigin(req("GET"), "session", allowed)).not.toThrow();
    expect(() => assertAllowedOrigin(req("POST"), "bearer", allowed)).not.toThrow();
    expect(() => assertAllowedOrigin(req("POST", { origin: allowed[0] }), "session", allowed)).not.toThrow();
  });

  it("refuses a cookie-authenticated unsafe request from a missing or foreign origin", () => {
    const origins: Record<string, string>[] = [{}, { origin: "https://evil.example" }, { origin: "null" }, { origin: "http://127.0.0.1:54322" }];
    for (const headers of origins) {
      for (const method of ["POST", "DELETE", "PUT", "PATCH"]) {
        let err: unknown;
        try {
          assertAllowedOrigin(req(method, headers), "session", allowed);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(KeygateError);
        expect((err as KeygateError).status).toBe(403);
        expect((err as KeygateError).code).toBe("csrf_origin_mismatch");
      }
    }
  });
});

describe("presentedKey", () => {
  it("prefers x-api-key, then a Bearer token, and reports absence as null", () => {
    expect(presentedKey(req("GET", { "x-api-key": " k1 ", authorization: "Bearer anon" }))).toBe("k1");
    expect(presentedKey(req("GET", { authorization: "Bearer k2" }))).toBe("k2");
    expect(presentedKey(req("GET", { "x-api-key": "", authorization: "bearer k3" }))).toBe("k3");
    expect(presentedKey(req("GET", { authorization: "Basic abc" }))).toBe("Basic abc");
    expect(presentedKey(req("GET"))).toBeNull();
    expect(presentedKey(req("GET", { "x-api-key": "  " }))).toBeNull();
  });
});
