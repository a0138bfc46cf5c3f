/**
 * Which bearer is a Keygate session token: 43 base64url characters, never a
 * Supabase JWT (which has dots) or anything else.
 */
import { randomBytes } from "node:crypto";
import { UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { sessionBearer } from "../../functions/_shared/auth/session-bearer.ts";

const bearer = (value: string) => new Request("http://127.0.0.1:9/", { headers: { authorization: value } });

describe("sessionBearer", () => {
  it("takes a session token from Authorization: Bearer", () => {
    const token = randomBytes(32).toString("base64url");
    expect(sessionBearer(bearer(`Bearer ${token}`))).toBe(token);
    expect(sessionBearer(bearer(`bearer  ${token}`))).toBe(token);
  });

  it("leaves a Supabase JWT, other schemes and other shapes alone", () => {
    const token = randomBytes(32).toString("base64url");
    for (const value of [
      `Bearer ${new UnsecuredJWT({ sub: "x" }).encode()}`,
      `Basic ${token}`,
      `Bearer ${token}A`,
      `Bearer ${token.slice(1)}`,
      `Bearer ${token.slice(0, 42)}=`,
      `Bearer ${token} extra`,
      "Bearer",
      "",
    ])
      expect(sessionBearer(bearer(value)), value).toBeNull();
    expect(sessionBearer(new Request("http://127.0.0.1:9/"))).toBeNull();
  });
});
