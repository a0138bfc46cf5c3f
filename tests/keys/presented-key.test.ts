import { describe, expect, it } from "vitest";
import { presentedKey } from "../../functions/_shared/keys/presented-key.ts";

const req = (method: string, headers: Record<string, string> = {}) =>
  new Request("http://127.0.0.1:54321/x", { method, headers });

describe("presentedKey", () => {
  it("prefers x-api-key, then a Bearer token, and reports absence as null", () => {
    expect(presentedKey(req("GET", { "x-api-key": " k1 ", authorization: "Bearer anon" }))).toBe("k1");
    expect(presentedKey(req("GET", { authorization: "Bearer k2" }))).toBe("k2");
    expect(presentedKey(req("GET", { "x-api-key": "", authorization: "bearer k3" }))).toBe("k3");
    expect(presentedKey(req("GET", { authorization: "Basic abc" }))).toBe("");
    expect(presentedKey(req("GET", { authorization: "kg_bare-key-without-a-scheme" }))).toBe("");
    expect(presentedKey(req("GET"))).toBeNull();
    expect(presentedKey(req("GET", { "x-api-key": "  " }))).toBeNull();
  });
});
